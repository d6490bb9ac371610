"""The outbox relay: in order, at least once, and killed between publish and record it republishes
the same event ids — which an idempotent consumer applies once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from mostrador.events.memory import InMemoryBroker, InMemoryBus
from mostrador.events.relay import OutboxRelay
from mostrador.events.envelope import stable_id
from mostrador.platform.esapp import eventsourcing_env
from mostrador.tickets.application import TicketsApp
from mostrador.tickets.outbound import to_integration

T0 = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)


def message(i: int) -> dict:
    key = f"54911000{i % 7:05d}"
    return {"message_id": f"w{i}", "timestamp": (T0 + timedelta(seconds=i)).isoformat(), "type": "text",
            "phone_number_id": "1", "customer": {"key": key, "wa_id": key}}


class Collector:
    """A consumer that records every delivery and applies each event id once."""

    def __init__(self) -> None:
        self.deliveries: list = []
        self.applied: dict = {}

    async def __call__(self, envelope) -> None:
        self.deliveries.append(envelope)
        self.applied.setdefault(envelope.event_id, envelope)


@pytest.fixture
def app(tmp_path):
    app = TicketsApp(env=eventsourcing_env(database_url=None, sqlite_path=str(tmp_path / "t.db"), schema="x"))
    yield app
    app.close()


async def run_until(predicate, timeout=10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_publishes_in_order_with_ids_from_notification_ids(app):
    broker = InMemoryBroker()
    bus, collector = InMemoryBus(broker), Collector()
    bus.subscribe("svc-a", ["tickets.#"], collector)
    await bus.start()
    for i in range(20):
        app.receive_message(key=f"k{i}", message=message(i))
    relay = OutboxRelay(app, to_integration, bus, producer="tickets", with_state=True, batch_size=7)
    await relay.start()
    total = app.recorder.max_notification_id()
    await run_until(lambda: relay.position == total)
    await run_until(lambda: len(collector.deliveries) >= 27)  # 7 tickets opened + 20 messages filed
    types = [e.routing_key for e in collector.deliveries]
    assert types.count("tickets.ticket.opened.v1") == 7
    assert types.count("tickets.ticket.message_received.v1") == 20
    # per ticket, versions arrive in order and opened comes first
    by_ticket: dict = {}
    for e in collector.deliveries:
        by_ticket.setdefault(e.aggregate_id, []).append(e.aggregate_version)
    assert all(v == sorted(v) for v in by_ticket.values())
    # every event id is derived from its notification id, so a republish carries the same id
    expected = {stable_id("tickets", n.id) for n in app.recorder.select_notifications(0, 1000)}
    assert {e.event_id for e in collector.deliveries} <= expected
    assert len({e.event_id for e in collector.deliveries}) == len(collector.deliveries)
    await relay.stop()
    await bus.stop()


async def test_killed_between_publish_and_record_republishes_the_same_ids(app, monkeypatch):
    broker = InMemoryBroker()
    bus, collector = InMemoryBus(broker), Collector()
    bus.subscribe("svc-a", ["tickets.#"], collector)
    await bus.start()
    for i in range(5):
        app.receive_message(key=f"k{i}", message=message(i))

    relay = OutboxRelay(app, to_integration, bus, producer="tickets", with_state=True)
    # Crash right after the broker confirmed, before the position is recorded.
    original = app.recorder.insert_tracking

    def crash(tracking):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(app.recorder, "insert_tracking", crash)
    with pytest.raises(KeyboardInterrupt):
        await relay.run_once()
    first_ids = [e.event_id for e in collector.deliveries]
    assert first_ids and relay.recorded == 0

    monkeypatch.setattr(app.recorder, "insert_tracking", original)
    restarted = OutboxRelay(app, to_integration, bus, producer="tickets", with_state=True)
    await restarted.start()
    await run_until(lambda: restarted.position == app.recorder.max_notification_id())
    await run_until(lambda: len(collector.deliveries) == 2 * len(first_ids))
    second_ids = [e.event_id for e in collector.deliveries[len(first_ids):]]
    assert second_ids == first_ids  # the same events, the same ids, the same order
    assert len(collector.applied) == len(first_ids)  # applied once each
    await restarted.stop()

    # Nothing lost: new events after the restart flow on from the recorded position.
    third = OutboxRelay(app, to_integration, bus, producer="tickets", with_state=True)
    await third.start()
    app.receive_message(key="k-new", message=message(99))
    await run_until(lambda: third.position == app.recorder.max_notification_id())
    await run_until(lambda: any(e.payload.ticket.last_message_id == "w99" for e in collector.deliveries
                                if hasattr(e.payload, "message")))
    assert len(collector.deliveries) == 2 * len(first_ids) + 1  # no republish of what was recorded
    await third.stop()
    await bus.stop()


async def test_the_position_is_stored_once_a_second_under_load_and_when_quiet_or_stopped(app, monkeypatch):
    broker = InMemoryBroker()
    bus, collector = InMemoryBus(broker), Collector()
    bus.subscribe("svc-a", ["tickets.#"], collector)
    await bus.start()
    stored = []
    original = app.recorder.insert_tracking

    def insert_tracking(tracking):
        stored.append(tracking.notification_id)
        original(tracking)

    monkeypatch.setattr(app.recorder, "insert_tracking", insert_tracking)
    relay = OutboxRelay(app, to_integration, bus, producer="tickets", with_state=True, batch_size=2,
                        poll_interval=0.3, record_every=60)
    await relay.start()
    for i in range(6):  # each save wakes the relay: batches go out, the position stays in memory
        app.receive_message(key=f"k{i}", message=message(i))
        await run_until(lambda: relay.position == app.recorder.max_notification_id())
    assert stored == [] and relay.recorded == 0
    await run_until(lambda: stored == [relay.position], timeout=3)  # fell quiet: stored, once
    assert app.recorder.max_tracking_id("relay:tickets") == relay.position

    app.receive_message(key="k-last", message=message(50))
    await run_until(lambda: relay.position == app.recorder.max_notification_id())
    await relay.stop()  # stopping stores it too
    assert stored[-1] == relay.position == app.recorder.max_tracking_id("relay:tickets")

    hurried = OutboxRelay(app, to_integration, bus, producer="tickets", with_state=True, batch_size=2,
                          record_every=0)
    await hurried.start()  # record_every=0: after every batch, as before
    app.receive_message(key="k-hurried", message=message(51))
    await run_until(lambda: hurried.recorded == app.recorder.max_notification_id())
    await hurried.stop()
    await bus.stop()


async def test_killed_with_its_position_unstored_it_republishes_and_each_is_applied_once(app):
    broker = InMemoryBroker()
    bus, collector = InMemoryBus(broker), Collector()
    bus.subscribe("svc-a", ["tickets.#"], collector)
    await bus.start()
    relay = OutboxRelay(app, to_integration, bus, producer="tickets", with_state=True, record_every=60,
                        poll_interval=60)
    await relay.start()
    for i in range(4):
        app.receive_message(key=f"k{i}", message=message(i))
    await run_until(lambda: relay.position == app.recorder.max_notification_id())
    await run_until(lambda: len(collector.applied) == 8)
    relay._task.cancel()  # killed: no stop(), nothing stored
    await asyncio.gather(relay._task, return_exceptions=True)
    assert app.recorder.max_tracking_id("relay:tickets") is None

    restarted = OutboxRelay(app, to_integration, bus, producer="tickets", with_state=True)
    await restarted.start()
    await run_until(lambda: len(collector.deliveries) == 16)  # all again, from the stored start
    assert len(collector.applied) == 8  # and recognised: applied once each
    await restarted.stop()
    await bus.stop()


async def test_relay_keeps_its_position_while_the_broker_is_down(app):
    broker = InMemoryBroker()
    bus, collector = InMemoryBus(broker, retry_backoff=0.01), Collector()
    bus.subscribe("svc-a", ["tickets.#"], collector)
    await bus.start()
    broker.available = False
    app.receive_message(key="k1", message=message(1))
    relay = OutboxRelay(app, to_integration, bus, producer="tickets", with_state=True)
    await relay.start()
    await asyncio.sleep(0.5)
    assert relay.position == 0 and collector.deliveries == []
    broker.available = True
    await run_until(lambda: len(collector.deliveries) == 2, timeout=15)
    assert relay.position == app.recorder.max_notification_id()
    await relay.stop()
    await bus.stop()


async def test_events_stored_while_handling_a_message_carry_its_correlation_and_cause(app, tmp_path):
    from mostrador.events.envelope import HANDLING, new_envelope
    from mostrador.events.schemas.ingest import MessageReceived
    from mostrador.tickets.application import TicketsApp

    cause = new_envelope(MessageReceived.model_validate({"message": {**message(1), "text": "hola"}}),
                         producer="ingest", aggregate_id="w1")
    handling = HANDLING.set(cause)
    try:
        number = app.receive_message(key="k1", message=message(1))
    finally:
        HANDLING.reset(handling)
    app.receive_message(key="k2", message=message(8))  # the same customer, no message being handled
    relay = OutboxRelay(app, to_integration, InMemoryBus(InMemoryBroker()), producer="tickets", with_state=True)
    envelopes, _ = relay.read_batch(0)
    first, later = ([e for e in envelopes if e.aggregate_version <= 2], [e for e in envelopes if e.aggregate_version > 2])
    assert first and later
    assert {(e.correlation_id, e.causation_id) for e in first} == {(cause.correlation_id, cause.event_id)}
    assert all(e.correlation_id == e.event_id and e.causation_id is None for e in later)
    # the stored extras are invisible to the aggregates: a fresh application (no cache) rebuilds them
    again = TicketsApp(env=eventsourcing_env(database_url=None, sqlite_path=str(tmp_path / "t.db"), schema="x"))
    try:
        assert again.get_ticket(number).number == number
    finally:
        again.close()
