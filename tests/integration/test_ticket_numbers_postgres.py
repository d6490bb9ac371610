"""Ticket numbers stay sequential, unique and gapless with several tickets processes writing at once
to one PostgreSQL schema (each process its own connection pool), and across restarts."""

from __future__ import annotations

import multiprocessing as mp
from datetime import UTC, datetime, timedelta

import pytest

from mostrador.platform.esapp import eventsourcing_env
from mostrador.tickets.application import TicketsApp

pytestmark = pytest.mark.timeout(180)
T0 = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)


def open_many(database_url: str, schema: str, worker: int, count: int) -> list[int]:
    app = TicketsApp(env=eventsourcing_env(database_url=database_url, sqlite_path=None, schema=schema))
    numbers = []
    for i in range(count):
        key = f"549{worker:02d}{i:06d}"
        message = {"message_id": f"w{worker}-{i}", "timestamp": (T0 + timedelta(seconds=i)).isoformat(),
                   "type": "text", "phone_number_id": "1", "customer": {"key": key, "wa_id": key}}
        numbers.append(app.receive_message(key=f"k{worker}-{i}", message=message))
    app.close()
    return numbers


def create_schema(database_url: str, schema: str) -> None:
    import psycopg
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')


def test_concurrent_processes_never_duplicate_or_skip_a_number(database_url, pg_schema):
    create_schema(database_url, pg_schema)
    open_many(database_url, pg_schema, 99, 1)  # create the tables once, before the race
    ctx = mp.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.starmap(open_many, [(database_url, pg_schema, w, 40) for w in range(4)])
    numbers = sorted(n for worker in results for n in worker)
    assert numbers == list(range(2, 2 + 4 * 40))
    # A restart continues where the store is: the next customer gets the next number.
    assert open_many(database_url, pg_schema, 98, 1) == [2 + 4 * 40]
