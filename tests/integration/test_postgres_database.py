"""PostgresDatabase: autocommit() is one round trip per statement, transaction() all or nothing,
several processes may migrate one schema at once, and the pool hands a returned connection to the
next caller at once without pinging it."""

from __future__ import annotations

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
