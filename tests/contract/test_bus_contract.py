"""One behaviour, two buses. Every test here runs on the InMemoryBus and on RabbitMQ."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from functools import partial

import pytest

from mostrador.events.bus import CommandError, PublishError, Reject, RequestTimeout, unwrap_reply
from mostrador.events.envelope import new_envelope
from mostrador.events.schemas.scheduler import ExpiryDue, WindowClosed
from tests.polling import until

eventually = partial(until, timeout=10.0)

pytestmark = pytest.mark.timeout(60)
NOW = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)


def expiry(number: int = 1):
    return new_envelope(ExpiryDue(ticket_id=f"t{number}", number=number, opened_at=NOW, due_at=NOW),
                        producer="scheduler", aggregate_id=f"t{number}")


def window(key: str = "5491100000001"):
    return new_envelope(WindowClosed(customer_key=key, last_inbound_at=NOW, closed_at=NOW),
                        producer="scheduler", aggregate_id=key)



async def test_routing_by_topic(make_bus):
    bus = make_bus()
    got_a, got_b = [], []

    async def a(envelope):
        got_a.append(envelope.routing_key)

    async def b(envelope):
        got_b.append(envelope.routing_key)

    bus.subscribe("svc-a", ["scheduler.*.*.v1"], a)
    bus.subscribe("svc-b", ["scheduler.window.closed.v1"], b)
    await bus.start()
    try:
        await bus.publish(expiry())
        await bus.publish(window())
        await eventually(lambda: len(got_a) == 2 and len(got_b) == 1)
        assert sorted(got_a) == ["scheduler.ticket.expiry_due.v1", "scheduler.window.closed.v1"]
        assert got_b == ["scheduler.window.closed.v1"]
    finally:
        await bus.stop()


async def test_envelope_and_message_id_survive_the_trip(make_bus):
    bus = make_bus()
    received = []

    async def handler(envelope):
        received.append(envelope)

    bus.subscribe("svc-a", ["scheduler.ticket.expiry_due.v1"], handler)
    await bus.start()
    try:
        sent = expiry(7)
        await bus.publish(sent)
        await eventually(lambda: received)
        assert received[0] == sent  # the whole envelope, payload typed again
        assert isinstance(received[0].payload, ExpiryDue)
    finally:
        await bus.stop()


async def test_failed_handler_gets_the_message_again(make_bus):
    bus = make_bus()
    calls = []

    async def flaky(envelope):
        calls.append(envelope.event_id)
        if len(calls) == 1:
            raise RuntimeError("boom")

    bus.subscribe("svc-a", ["scheduler.ticket.expiry_due.v1"], flaky)
    await bus.start()
    try:
        sent = expiry()
        await bus.publish(sent)
        await eventually(lambda: len(calls) == 2)
        await asyncio.sleep(0.3)
        assert calls == [sent.event_id, sent.event_id]
        assert await bus.dead_letters("svc-a") == []
    finally:
        await bus.stop()


async def test_delivery_limit_sends_to_the_dead_letter_queue_with_its_message_id(make_bus):
    bus = make_bus(delivery_limit=3)
    calls = []

    async def always_fails(envelope):
        calls.append(1)
        raise RuntimeError("always")

    bus.subscribe("svc-a", ["scheduler.ticket.expiry_due.v1"], always_fails)
    await bus.start()
    try:
        sent = expiry()
        await bus.publish(sent)
        dead = []

        async def poll():
            dead[:] = await bus.dead_letters("svc-a")
            return dead

        deadline = asyncio.get_running_loop().time() + 15
        while not await poll():
            assert asyncio.get_running_loop().time() < deadline, "never dead-lettered"
            await asyncio.sleep(0.05)
        assert len(calls) == 3
        assert [d["message_id"] for d in dead] == [str(sent.event_id)]
        # and an operator can put it back
        assert await bus.redrive("svc-a") == 1
        await eventually(lambda: len(calls) >= 4)
    finally:
        await bus.stop()


async def test_reject_and_poison_dead_letter_at_once(make_bus):
    bus = make_bus()
    calls = []

    async def rejects(envelope):
        calls.append(1)
        raise Reject("cannot ever work")

    bus.subscribe("svc-a", ["scheduler.#"], rejects)
    await bus.start()
    try:
        await bus.publish(expiry())
        await eventually(lambda: calls)
        for _ in range(200):
            if len(await bus.dead_letters("svc-a")) == 1:
                break
            await asyncio.sleep(0.05)
        assert len(await bus.dead_letters("svc-a")) == 1
        assert calls == [1]
    finally:
        await bus.stop()


async def test_transient_errors_retry_in_place_without_reaching_the_limit(make_bus):
    bus = make_bus(delivery_limit=2)
    attempts = []

    async def database_down_for_a_while(envelope):
        attempts.append(1)
        if len(attempts) <= 4:
            raise ConnectionError("database restarting")

    bus.subscribe("svc-a", ["scheduler.ticket.expiry_due.v1"], database_down_for_a_while)
    await bus.start()
    try:
        await bus.publish(expiry())
        await eventually(lambda: len(attempts) == 5)
        await asyncio.sleep(0.3)
        assert len(attempts) == 5
        assert await bus.dead_letters("svc-a") == []
    finally:
        await bus.stop()


async def test_same_key_is_handled_in_order(make_bus):
    bus = make_bus()
    order = []

    async def slow_first(envelope):
        if envelope.payload.number == 1:
            await asyncio.sleep(0.3)
        order.append(envelope.payload.number)

    bus.subscribe("svc-a", ["scheduler.ticket.expiry_due.v1"], slow_first, key=lambda e: "same-customer")
    await bus.start()
    try:
        for n in (1, 2, 3):
            await bus.publish(expiry(n))
        await eventually(lambda: len(order) == 3)
        assert order == [1, 2, 3]
    finally:
        await bus.stop()


async def test_consumer_killed_mid_message_gets_it_again(make_bus):
    first = make_bus()
    started = asyncio.Event()

    async def hangs(envelope):
        started.set()
        await asyncio.sleep(3600)

    first.subscribe("svc-a", ["scheduler.ticket.expiry_due.v1"], hangs)
    await first.start()
    sent = expiry()
    await first.publish(sent)
    await asyncio.wait_for(started.wait(), 10)
    await first.kill()

    second = make_bus()
    received = []

    async def works(envelope):
        received.append(envelope.event_id)

    second.subscribe("svc-a", ["scheduler.ticket.expiry_due.v1"], works)
    await second.start()
    try:
        await eventually(lambda: received)
        assert received == [sent.event_id]
    finally:
        await second.stop()


async def test_graceful_stop_finishes_in_flight_work(make_bus):
    bus = make_bus()
    done = []

    async def slow(envelope):
        await asyncio.sleep(0.3)
        done.append(envelope.event_id)

    bus.subscribe("svc-a", ["scheduler.ticket.expiry_due.v1"], slow)
    await bus.start()
    sent = expiry()
    await bus.publish(sent)
    await asyncio.sleep(0.1)
    await bus.stop()
    assert done == [sent.event_id]

    after = make_bus()  # it was acked: nobody gets it again
    again = []

    async def record(envelope):
        again.append(envelope)

    after.subscribe("svc-a", ["scheduler.ticket.expiry_due.v1"], record)
    await after.start()
    await asyncio.sleep(0.5)
    await after.stop()
    assert again == []


async def test_request_reply_and_errors(make_bus):
    server, client = make_bus(), make_bus()

    async def tickets(command, body):
        if command == "explode":
            raise CommandError("invalid_transition", "cannot change status from FACTURADO", 409)
        return {"echo": body, "command": command}

    server.serve("tickets", tickets)
    await server.start()
    await client.start()
    try:
        reply = await client.request("tickets", "change_status", {"number": 1}, timeout=5)
        assert unwrap_reply(reply) == {"echo": {"number": 1}, "command": "change_status"}
        with pytest.raises(CommandError) as refused:
            unwrap_reply(await client.request("tickets", "explode", {}, timeout=5))
        assert (refused.value.code, refused.value.status) == ("invalid_transition", 409)
        with pytest.raises(RequestTimeout):
            await client.request("chat", "send_text", {}, timeout=0.5)  # nobody serves chat here
    finally:
        await client.stop()
        await server.stop()


async def test_publish_reports_an_unavailable_broker(make_bus):
    if make_bus.kind == "memory":
        bus = make_bus()
        await bus.start()
        bus.broker.available = False
        with pytest.raises(PublishError):
            await bus.publish(expiry())
        await bus.stop()
        return
    # RabbitMQ through a TCP proxy, so the test can take the broker away from this client only.
    from urllib.parse import urlparse

    from tests.chaos.proxy import TcpProxy
    target = urlparse(make_bus.url)
    with TcpProxy(target.port or 5672, target.hostname or "127.0.0.1") as proxy:
        bus = make_bus(via=target._replace(netloc=f"{target.username}:{target.password}@127.0.0.1:{proxy.port}")
                       .geturl())
        await bus.start()
        await bus.publish(expiry())  # reachable: confirmed
        proxy.cut()
        with pytest.raises(PublishError):
            await bus.publish(expiry(), timeout=2)
        await bus.kill()
