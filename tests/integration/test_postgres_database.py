"""PostgresDatabase: autocommit() is one round trip per statement, transaction() all or nothing,
several processes may migrate one schema at once, and the pool hands a returned connection to the
next caller at once without pinging it."""

from __future__ import annotations

import asyncio
import threading

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from mostrador.platform.db import PostgresDatabase

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

TABLES = [f"CREATE TABLE IF NOT EXISTS t{i} (x INTEGER PRIMARY KEY, y TEXT)" for i in range(8)] + \
         [f"CREATE INDEX IF NOT EXISTS t{i}_y ON t{i} (y)" for i in range(8)]


@pytest.fixture
def db(database_url, pg_schema):
    database = PostgresDatabase(database_url, pg_schema, pool_size=2)
    database.migrate(TABLES)
    yield database
    database.close()


def test_autocommit_commits_each_statement_and_a_failed_transaction_leaves_nothing(db, database_url, pg_schema):
    with db.autocommit() as tx:
        tx.execute("INSERT INTO t0 VALUES (1, 'a')")
        with psycopg.connect(database_url) as other:  # seen before the block ends: no BEGIN around it
            assert other.execute(f'SELECT count(*) FROM "{pg_schema}".t0').fetchone() == (1,)
    with pytest.raises(RuntimeError), db.transaction() as tx:
        tx.execute("INSERT INTO t0 VALUES (2, 'b')")
        raise RuntimeError("boom")
    assert db.all("SELECT x FROM t0") == [{"x": 1}]


def test_processes_starting_together_migrate_one_schema_without_a_catalog_race(database_url, pg_schema):
    together, errors = threading.Barrier(6), []

    def start() -> None:
        try:
            together.wait(10)
            database = PostgresDatabase(database_url, pg_schema, pool_size=1)
            try:
                database.migrate(TABLES)
            finally:
                database.close()
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []


def test_a_returned_connection_is_back_at_once_and_not_pinged_while_warm(db, monkeypatch):
    for _ in range(5):  # the pool's connections have each been used (a brand-new one is pinged once)
        db.one("SELECT 1 AS x")
    pings = []
    original = ConnectionPool.check_connection
    monkeypatch.setattr(ConnectionPool, "check_connection",
                        staticmethod(lambda conn: (pings.append(conn), original(conn))))
    for _ in range(20):
        assert db.one("SELECT 1 AS x") == {"x": 1}
        stats = db.pool.get_stats()  # returned in the caller's thread, not later by the pool's worker
        assert stats["pool_available"] == stats["pool_size"]
    assert pings == []


def test_an_old_board_gains_the_missing_column_filled_from_its_states(database_url, pg_schema):
    from tests.service.panel.board_upgrade import check_old_board_upgrades

    db = PostgresDatabase(database_url, pg_schema, pool_size=2)
    try:
        check_old_board_upgrades(db)
    finally:
        db.close()


def test_the_board_counts_with_the_first_page_and_carries_the_count(database_url, pg_schema, monkeypatch):
    from tests.service.panel.board_counts import check_board_counts

    db = PostgresDatabase(database_url, pg_schema, pool_size=2)
    try:
        check_board_counts(db, monkeypatch)
    finally:
        db.close()


def test_read_from_async_code_goes_without_a_worker_thread_in_the_loop_that_owns_its_pool(db, monkeypatch):
    from mostrador.platform.db import Database

    with db.transaction() as tx:
        tx.executemany("INSERT INTO t0 (x, y) VALUES (%(x)s, %(y)s)", [{"x": 1, "y": "a"}, {"x": 2, "y": "b"}])
    threaded = []
    monkeypatch.setattr(Database, "_read", lambda self, st: threaded.append(st) or [[{"n": -1}]])
    statements = [("SELECT x, y FROM t0 WHERE x >= %(lo)s ORDER BY x", {"lo": 1}), ("SELECT count(*) AS n FROM t1", None)]

    async def first_loop():
        try:
            return await db.read(statements), await db.read(statements[1:])
        finally:
            await db.aclose()

    assert asyncio.run(first_loop()) == ([[{"x": 1, "y": "a"}, {"x": 2, "y": "b"}], [{"n": 0}]], [[{"n": 0}]])
    assert threaded == []
    assert asyncio.run(db.read(statements[1:])) == [[{"n": -1}]]  # another loop: through a thread
    assert len(threaded) == 1
