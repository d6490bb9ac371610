"""Poison messages on RabbitMQ, end to end with the real tickets service (its composition root, on
PostgreSQL) and the admin CLI (`make dlq` = `python -m mostrador.platform.dlq`, namespaced by
BUS_NAMESPACE): a message the service fails on every time is dead-lettered after the delivery limit
while others flow, counted in /metrics, listed by the CLI, and after the fix re-driven by
`--redrive tickets` into the running service. A message that kills its consumer every time (no handler
survives to count it) is dead-lettered by RabbitMQ itself, by x-delivery-limit."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from functools import partial

import aio_pika
import httpx
import pytest

from mostrador.events.envelope import stable_id
from mostrador.events.schemas.ingest import MessageReceived
from mostrador.ingest.webhook import envelopes_for
from mostrador.platform.clock import SystemClock
from mostrador.whatsapp.webhook import parse_webhook
from tests.e2e.harness import ROOT, text_message
from tests.polling import until

eventually = partial(until, timeout=30.0)

pytestmark = pytest.mark.timeout(120)
POISON, GOOD = "wamid.POISON-R", "wamid.GOOD-R"


@pytest.fixture
async def namespace(amqp_url, bus_namespace):
    yield bus_namespace
    from tests.contract.conftest import _delete_namespace
    await _delete_namespace(amqp_url, bus_namespace)


def dlq_cli(amqp_url: str, namespace: str, *args: str) -> str:
    env = {**os.environ, "AMQP_URL": amqp_url, "BUS_NAMESPACE": namespace, "BUS_DELIVERY_LIMIT": "3",
           "LOG_LEVEL": "WARNING"}  # the deployment's configuration, as the services have it
    out = subprocess.run([sys.executable, "-m", "mostrador.platform.dlq", *args], check=False, cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout



def message_envelope(wamid: str, phone: str):
    [envelope] = envelopes_for(parse_webhook(text_message(wamid, phone, "Cliente", "Hola")), SystemClock())
    return envelope


async def test_tickets_dead_letters_a_failing_message_and_the_cli_lists_and_redrives_it(
        database_url, amqp_url, pg_schema, namespace):
    from prometheus_client import REGISTRY

    from mostrador.platform.http import create_app
    from mostrador.platform.runner import make_bus
    from mostrador.platform.service import Context
    from mostrador.platform.settings import Settings
    from mostrador.tickets.service import build

    settings = Settings(database_url=database_url, db_schema=pg_schema, amqp_url=amqp_url, bus_namespace=namespace,
                        bus_delivery_limit=3, bus_topology_settle_seconds=0)
    bus = make_bus(settings, "tickets")
    service = build(Context(settings=settings, bus=bus))
    handlers, tickets = service.parts["handlers"], service.parts["app"]
    real_apply = handlers._apply

    def buggy_apply(payload, key):
        if isinstance(payload, MessageReceived) and payload.message.message_id == POISON:
            raise RuntimeError("a bug that fails this message every time")
        return real_apply(payload, key)

    handlers._apply = buggy_apply
    app = create_app("tickets", bus, [service])
    before = REGISTRY.get_sample_value("mostrador_bus_dead_lettered_total", {"service": "tickets"}) or 0
    poison_id = str(stable_id("ingest", "message", POISON))
    async with app.router.lifespan_context(app):
        await bus.publish(message_envelope(POISON, "5491100000081"))
        await bus.publish(message_envelope(GOOD, "5491100000082"))
        connection = await aio_pika.connect(amqp_url)  # and bytes that are no envelope at all
        channel = await connection.channel()
        exchange = await channel.get_exchange(f"{namespace}.events")
        await exchange.publish(aio_pika.Message(b"{not an envelope", message_id="garbage-1"),
                               routing_key="ingest.message.received.v1")
        await connection.close()

        async def both_dead():
            letters = await bus.dead_letters("tickets")
            return letters if len(letters) == 2 else None

        dead = await eventually(both_dead)
        assert sorted(d["message_id"] for d in dead) == sorted([poison_id, "garbage-1"])
        assert await asyncio.to_thread(lambda: tickets.get_ticket(1).customer["key"]) == "5491100000082"
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tickets") as client:
            metrics = (await client.get("/metrics")).text
        assert f'mostrador_bus_dead_lettered_total{{service="tickets"}} {before + 2}' in metrics

        listing = await asyncio.to_thread(dlq_cli, amqp_url, namespace)
        assert "tickets: 2 dead letter(s)" in listing
        assert f"ingest.message.received.v1 event_id={poison_id}" in listing
        assert "{not an envelope" in listing
        assert "chat: 0 dead letter(s)" in listing

        handlers._apply = real_apply  # the fix is deployed
        moved = await asyncio.to_thread(dlq_cli, amqp_url, namespace, "--redrive", "tickets")
        assert "re-drove 2 message(s) to tickets" in moved

        def filed() -> bool:
            try:
                return tickets.get_ticket(2).customer["key"] == "5491100000081"
            except LookupError:
                return False

        async def filed_async():
            return await asyncio.to_thread(filed)

        await eventually(filed_async)

        async def only_garbage_left():
            letters = await bus.dead_letters("tickets")
            return letters if [d["message_id"] for d in letters] == ["garbage-1"] else None

        await eventually(only_garbage_left)  # still not an envelope: back in the dead letters


async def test_a_message_that_kills_its_consumer_every_time_is_dead_lettered_by_the_broker(amqp_url, namespace):
    from mostrador.events.envelope import new_envelope
    from mostrador.events.rabbit import RabbitBus
    from mostrador.events.schemas.scheduler import ExpiryDue

    started = asyncio.Event()

    async def dies_on_it(envelope):
        started.set()
        await asyncio.Event().wait()  # never returns: the process is killed mid-message

    payload = ExpiryDue(ticket_id="t-1", number=1, opened_at="2026-09-15T12:00:00+00:00",
                        due_at="2026-09-17T12:00:00+00:00")
    envelope = new_envelope(payload, producer="scheduler", aggregate_id="t-1")
    publisher = RabbitBus(amqp_url, name="publisher", namespace=namespace, delivery_limit=3)
    await publisher.start()
    try:
        kills = 0
        while kills == 0 or not await publisher.dead_letters("svc-a"):
            assert kills < 8, "never dead-lettered"
            consumer = RabbitBus(amqp_url, name="consumer", namespace=namespace, delivery_limit=3)
            consumer.subscribe("svc-a", ["scheduler.ticket.expiry_due.v1"], dies_on_it)
            started.clear()
            await consumer.start()  # declares svc-a's inbox, so the first publish is routed
            if kills == 0:
                await publisher.publish(envelope)
            try:
                await asyncio.wait_for(started.wait(), 10)
            except TimeoutError:  # the broker has already given up on it
                await consumer.kill()
                continue
            await consumer.kill()  # SIGKILL-like: the connection drops, the broker gets it back
            kills += 1
            await asyncio.sleep(0.2)
        [letter] = await publisher.dead_letters("svc-a")
        assert letter["message_id"] == str(envelope.event_id)
        assert kills >= 3  # RabbitMQ's x-delivery-limit, not sooner
        assert letter["headers"].get("x-first-death-reason") == "delivery_limit"
    finally:
        await publisher.stop()
