"""A PostgreSQL crash-restart must not leave a read model's connection pool unusable.

Found by the chaos suite: panel-api's pool held five idle connections when PostgreSQL restarted; the
next login met the dead ones one at a time, each behind psycopg_pool's doubling backoff, and failed
with PoolTimeout after 10 s (HTTP 500). Now the first dead connection makes the pool test all of its
idle ones at once, so the next request is served as soon as the server is back.
"""

from __future__ import annotations

import threading
import time

import pytest

from mostrador.platform.db import PostgresDatabase
from tests.chaos import infra

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def restartable_postgres():
    import os
    if os.environ.get("CHAOS_SKIP") == "1":
        pytest.skip("CHAOS_SKIP=1")
    reason = infra.can_control_postgres()
    if reason:
        pytest.skip(f"needs to restart the local PostgreSQL: {reason}")
    yield
    infra.ensure_running()


def test_a_pool_full_of_idle_connections_serves_at_once_after_a_postgres_restart(
        database_url, pg_schema, restartable_postgres):
    db = PostgresDatabase(database_url, pg_schema, pool_size=5)
    try:
        db.migrate(["CREATE TABLE IF NOT EXISTS t (x INTEGER)"])
        together = threading.Barrier(5)

        def hold_one() -> None:  # five transactions at once: the pool grows to five connections
            with db.transaction() as tx:
                together.wait(10)
                tx.execute("INSERT INTO t VALUES (1)")

        threads = [threading.Thread(target=hold_one) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        assert db.pool.get_stats()["pool_size"] == 5

        infra.restart_postgres()  # immediate stop (a crash) and start: every pooled connection is dead

        started = time.monotonic()
        assert db.one("SELECT count(*) AS n FROM t") == {"n": 5}
        assert time.monotonic() - started < 3.0, "the first request after a restart waited on dead connections"
    finally:
        db.close()
