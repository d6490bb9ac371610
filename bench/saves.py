"""B2's baseline: "a loop doing only the event-store saves those messages need, same database".

Before and after the backlog we read, per event-sourced service, how many transactions it committed
(its tracking rows: one per applied message or command; the relays' positions excluded) and which
events it stored. The baseline then re-inserts a sample of exactly those stored events (same
topics, same bytes) into fresh schemas of the same database, split into the same number of
transactions, each with its tracking row — sequentially, in one loop, nothing else — and turns the
time it took into messages per second.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bench.common import database_url

EVENT_SOURCED = ("tickets", "bot", "chat")


@dataclass
class StoreMark:
    notification_id: int
    transactions: int


def mark(prefix: str) -> dict[str, StoreMark]:
    import psycopg
    out = {}
    with psycopg.connect(database_url()) as conn:
        for service in EVENT_SOURCED:
            schema = f"{prefix}{service}"
            top = conn.execute(f'SELECT COALESCE(MAX(notification_id), 0) FROM "{schema}"."{service}_events"').fetchone()
            tx = conn.execute(f'SELECT COUNT(*) FROM "{schema}"."{service}_tracking"'
                              " WHERE application_name NOT LIKE 'relay:%%'").fetchone()
            out[service] = StoreMark(int(top[0]), int(tx[0]))
    return out


def replay_saves(prefix: str, before: dict[str, StoreMark], after: dict[str, StoreMark], messages: int,
                 sample_messages: int, target_prefix: str) -> dict[str, Any]:
    """Re-insert the events of ``sample_messages`` of the ``messages`` in as many transactions.
    Returns the baseline rate (messages/s) and what each message needed."""
    import psycopg
    from eventsourcing.persistence import StoredEvent, Tracking

    from mostrador.platform.esapp import ServiceApplication, eventsourcing_env

    fraction = min(1.0, sample_messages / messages)
    plan: dict[str, tuple[list[StoredEvent], int]] = {}
    per_message: dict[str, dict[str, float]] = {}
    with psycopg.connect(database_url()) as conn:
        for service in EVENT_SOURCED:
            schema = f"{prefix}{service}"
            rows = conn.execute(
                f'SELECT originator_id, originator_version, topic, state FROM "{schema}"."{service}_events"'
                " WHERE notification_id > %s AND notification_id <= %s ORDER BY notification_id",
                (before[service].notification_id, after[service].notification_id)).fetchall()
            transactions = after[service].transactions - before[service].transactions
            per_message[service] = {"saves": transactions / messages, "events": len(rows) / messages}
            take = int(len(rows) * fraction)
            plan[service] = ([StoredEvent(originator_id=r[0], originator_version=r[1], topic=r[2], state=bytes(r[3]))
                              for r in rows[:take]], max(1, round(transactions * fraction)))
    elapsed = 0.0
    for service, (events, transactions) in plan.items():
        class Store(ServiceApplication):
            name = service

        app = Store(env=eventsourcing_env(database_url=database_url(), sqlite_path=None,
                                          schema=f"{target_prefix}{service}"))
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
