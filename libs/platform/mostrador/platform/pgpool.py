"""Checking pooled PostgreSQL connections without a round trip per checkout.

psycopg_pool's ``check_connection`` (eventsourcing's POSTGRES_PRE_PING) sends a query on every
checkout: about a fifth of a busy service's database time went to those pings (bench B2). Instead we
ping only a connection that has sat idle for a while (a busy one was just used, so it is alive), and
when a ping fails — the server went away, a restart — test every idle connection at once: otherwise
getconn() meets the dead ones one per retry with a doubling backoff (1, 2, 4 s…), and after a
PostgreSQL restart five idle connections made the next request wait past its timeout (chaos suite).
A connection that dies while in use fails its statement once; the bus retries that as transient.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

IDLE_BEFORE_PING = 1.0  # seconds


class IdleCheck:
    """``check`` and ``reset`` callbacks for one psycopg_pool.ConnectionPool."""

    def __init__(self, idle_before_ping: float = IDLE_BEFORE_PING) -> None:
        self.idle_before_ping = idle_before_ping
        self.pool: Any = None
        self._returned: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    def reset(self, conn: Any) -> None:
        """Called by the pool when a connection comes back."""
        self._returned[conn] = time.monotonic()

    def check(self, conn: Any) -> None:
        """Called by the pool before handing a connection out; raising discards it."""
        from psycopg_pool import ConnectionPool

        returned = self._returned.get(conn)
        if returned is not None and time.monotonic() - returned < self.idle_before_ping:
            return
        try:
            ConnectionPool.check_connection(conn)
        except Exception:
            if self.pool is not None:
                self.pool.check()  # the others are most likely dead too
            raise

    def install(self, pool: Any) -> None:
        """For a pool built by someone else (eventsourcing's datastore): psycopg_pool keeps the two
        callbacks as ``_check`` / ``_reset`` (checked against psycopg-pool 3.2 and 3.3)."""
        self.pool = pool
        pool._check, pool._reset = self.check, self.reset
