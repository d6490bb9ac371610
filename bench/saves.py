"""The saves-only floor: "a loop doing only the event-store saves those messages need, same database"
(B2's baseline on PostgreSQL; B6's floor on SQLite).

Before and after the backlog we read, per event-sourced service, how many transactions it committed
(its tracking rows: one per applied message or command; the relays' positions excluded) and which
events it stored. The baseline then re-inserts a sample of exactly those stored events (same
topics, same bytes) into fresh stores of the same database, split into the same number of
transactions, each with its tracking row — sequentially, in one loop, nothing else — and turns the
time it took into messages per second.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import database_url

EVENT_SOURCED = ("tickets", "bot", "chat")
NOT_RELAYS = "application_name NOT LIKE 'relay:%'"


@dataclass
class StoreMark:
    notification_id: int
    transactions: int


@dataclass(frozen=True)
class Stores:
    """Where the event-sourced services keep their events: PostgreSQL schemas named ``prefix`` +
    service (distributed), or ``<service>.db`` files in ``data_dir`` (embedded)."""

    prefix: str | None = None
    data_dir: Path | None = None

    def env(self, service: str) -> dict[str, str]:
        from mostrador.platform.esapp import eventsourcing_env
        if self.data_dir is not None:
            return eventsourcing_env(database_url=None, sqlite_path=str(self.data_dir / f"{service}.db"),
                                     schema=service)
        return eventsourcing_env(database_url=database_url(), sqlite_path=None, schema=f"{self.prefix}{service}")

    def query(self, service: str, postgres_sql: str, sqlite_sql: str, params: tuple = ()) -> list[tuple]:
        if self.data_dir is not None:
            # closing(): sqlite3's own context manager commits but leaves the connection open
            with contextlib.closing(sqlite3.connect(self.data_dir / f"{service}.db")) as conn:
                return conn.execute(sqlite_sql, params).fetchall()
        import psycopg
        with psycopg.connect(database_url()) as conn:
            return conn.execute(postgres_sql.format(schema=f"{self.prefix}{service}", table=service),
                                params or None).fetchall()


def mark(stores: Stores) -> dict[str, StoreMark]:
    out = {}
    for service in EVENT_SOURCED:
        [(top,)] = stores.query(service, 'SELECT COALESCE(MAX(notification_id), 0) FROM "{schema}"."{table}_events"',
                                "SELECT COALESCE(MAX(rowid), 0) FROM stored_events")
        [(tx,)] = stores.query(service, 'SELECT COUNT(*) FROM "{schema}"."{table}_tracking" WHERE ' + NOT_RELAYS,
                               "SELECT COUNT(*) FROM tracking WHERE " + NOT_RELAYS)
        out[service] = StoreMark(int(top), int(tx))
    return out


def replay_saves(source: Stores, before: dict[str, StoreMark], after: dict[str, StoreMark], messages: int,
                 sample_messages: int, target: Stores) -> dict[str, Any]:
    """Re-insert the events of ``sample_messages`` of the ``messages`` in as many transactions, into
    ``target`` (fresh stores of the same database). Returns the rate (messages/s) and what each
    message needed."""
    from eventsourcing.persistence import StoredEvent, Tracking

    from mostrador.platform.esapp import ServiceApplication

    fraction = min(1.0, sample_messages / messages)
    plan: dict[str, tuple[list[StoredEvent], int]] = {}
    per_message: dict[str, dict[str, float]] = {}
    for service in EVENT_SOURCED:
        span = (before[service].notification_id, after[service].notification_id)
        rows = source.query(
            service,
            'SELECT originator_id, originator_version, topic, state FROM "{schema}"."{table}_events"'
            " WHERE notification_id > %s AND notification_id <= %s ORDER BY notification_id",
            "SELECT originator_id, originator_version, topic, state FROM stored_events"
            " WHERE rowid > ? AND rowid <= ? ORDER BY rowid", span)
        transactions = after[service].transactions - before[service].transactions
        per_message[service] = {"saves": transactions / messages, "events": len(rows) / messages}
        take = int(len(rows) * fraction)
        plan[service] = ([StoredEvent(originator_id=r[0], originator_version=r[1], topic=r[2], state=bytes(r[3]))
                          for r in rows[:take]], max(1, round(transactions * fraction)))
    if target.data_dir is not None:
        target.data_dir.mkdir(parents=True, exist_ok=True)
    elapsed = 0.0
    for service, (events, transactions) in plan.items():
        class Store(ServiceApplication):
            name = service

        app = Store(env=target.env(service))
        try:
            chunks = [events[i * len(events) // transactions:(i + 1) * len(events) // transactions]
                      for i in range(transactions)]
            start = time.perf_counter()
            for i, chunk in enumerate(chunks):
                app.recorder.insert_events(chunk, tracking=Tracking(f"baseline-{i}", 1))
            elapsed += time.perf_counter() - start
        finally:
            app.close()
    sampled = messages * fraction
    return {"rate": sampled / elapsed if elapsed else None, "sample_messages": sampled, "seconds": elapsed,
            "per_message": per_message}
