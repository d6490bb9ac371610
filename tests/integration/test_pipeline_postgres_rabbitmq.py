"""Tickets on PostgreSQL -> outbox relay -> RabbitMQ -> the panel's projection on PostgreSQL.
The relay is killed between the broker's confirm and recording its position: the events are
published again with the same ids, and the board still holds each ticket once, at its last version."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from mostrador.events.rabbit import RabbitBus
from mostrador.events.relay import OutboxRelay
from mostrador.events.topology import INBOXES
from mostrador.panel_api.board import BoardQuery, list_tickets
from mostrador.panel_api.handlers import ProjectionHandlers
from mostrador.panel_api.views import PanelViews
from mostrador.platform.db import PostgresDatabase
from mostrador.platform.esapp import eventsourcing_env
from mostrador.tickets.application import TicketsApp
from mostrador.tickets.outbound import to_integration
from tests.polling import until

pytestmark = pytest.mark.timeout(120)
T0 = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)
OPERATOR = {"kind": "operator", "id": "ana"}


async def eventually(predicate, timeout=30.0):
    return await until(predicate, timeout, in_thread=True)  # the predicate reads PostgreSQL


async def test_relay_crash_republishes_and_the_board_applies_each_change_once(
        database_url, amqp_url, pg_schema, bus_namespace, monkeypatch):
    import psycopg
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{pg_schema}"')
    app = TicketsApp(env=eventsourcing_env(database_url=database_url, sqlite_path=None, schema=pg_schema))
    views = PanelViews(PostgresDatabase(database_url, pg_schema))
    applied = []
    handlers = ProjectionHandlers(views)

    async def on_event(envelope):
        applied.append(envelope.event_id)
        await handlers.on_event(envelope)

    bus = RabbitBus(amqp_url, name="it", namespace=bus_namespace)
    bus.subscribe("panel-api", INBOXES["panel-api"].bindings, on_event)
    await bus.start()
    try:
        for i in range(30):
            key = f"5491100{i % 10:06d}"
            app.receive_message(key=f"m{i}", message={
                "message_id": f"w{i}", "timestamp": (T0 + timedelta(seconds=i)).isoformat(), "type": "text",
                "phone_number_id": "1", "customer": {"key": key, "wa_id": key, "name": f"Cliente {i % 10}"}})
        app.change_status(key="c1", number=3, to="EN PROCESO", by=OPERATOR, at=T0)

        relay = OutboxRelay(app, to_integration, bus, producer="tickets", with_state=True, batch_size=50)
        original = app.recorder.insert_tracking
        monkeypatch.setattr(app.recorder, "insert_tracking", lambda t: (_ for _ in ()).throw(SystemExit("killed")))
        with pytest.raises(SystemExit):
            await relay.run_once()  # published and confirmed, position not recorded
        monkeypatch.setattr(app.recorder, "insert_tracking", original)

        restarted = OutboxRelay(app, to_integration, bus, producer="tickets", with_state=True, batch_size=50)
        await restarted.start()
        total = app.recorder.max_notification_id()
        await eventually(lambda: restarted.position == total)
        published_once = 10 + 30 + 1  # opened + message_received + status_changed
        first_batch, _ = relay.read_batch(0)  # what the killed relay had published
        await eventually(lambda: len(set(applied)) == published_once)  # nothing lost
        await asyncio.sleep(0.5)
        assert len(applied) == published_once + len(first_batch)  # the first batch came twice…
        page = list_tickets(views.db, BoardQuery(limit=100))
        assert [r["number"] for r in page["rows"]] == list(range(10, 0, -1))
        board = {r["number"]: r for r in page["rows"]}
        assert board[3]["status"] == "EN PROCESO"
        for number in board:  # …yet each row is the ticket's latest state, applied once
            ticket = app.get_ticket(number)
            state = views.ticket(number)
            assert (state["version"], state["status"]) == (ticket.version, ticket.status)
        await restarted.stop()
    finally:
        await bus.stop()
        app.close()
        views.db.close()
        from tests.contract.conftest import _delete_namespace
        await _delete_namespace(amqp_url, bus_namespace)
