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
    """The ``check`` callback of one psycopg_pool.ConnectionPool (or AsyncConnectionPool), and the time
    each connection came back. Install with ``install(pool)`` (``install_async``)."""

    def __init__(self, idle_before_ping: float = IDLE_BEFORE_PING) -> None:
        self.idle_before_ping = idle_before_ping
        self.pool: Any = None
        self._returned: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    def returned(self, conn: Any) -> None:
        self._returned[conn] = time.monotonic()

    def _warm(self, conn: Any) -> bool:
        returned = self._returned.get(conn)
        return returned is not None and time.monotonic() - returned < self.idle_before_ping

    def check(self, conn: Any) -> None:
        """Called by the pool before handing a connection out; raising discards it."""
        from psycopg_pool import ConnectionPool

        if self._warm(conn):
            return
        try:
            ConnectionPool.check_connection(conn)
        except Exception:
            if self.pool is not None:
                self.pool.check()  # the others are most likely dead too
            raise

    async def check_async(self, conn: Any) -> None:
        from psycopg_pool import AsyncConnectionPool

        if self._warm(conn):
            return
        try:
            await AsyncConnectionPool.check_connection(conn)
        except Exception:
            if self.pool is not None:
                await self.pool.check()
            raise

    def install(self, pool: Any) -> None:
        """On any pool, ours or eventsourcing's: psycopg_pool keeps the check callback as ``_check``
        (psycopg-pool 3.2 and 3.3). The return time is stamped in ``putconn``, not in a ``reset``
        callback: with one set, the pool hands every returned connection to its worker thread
        (a ReturnConnection task), two thread switches per checkout and a connection that is not
        back yet for the next caller (bench B4)."""
        self.pool = pool
        pool._check = self.check
        put = pool.putconn

        def putconn(conn: Any) -> None:
            self.returned(conn)
            put(conn)

        pool.putconn = putconn  # pool.connection() calls self.putconn

    def install_async(self, pool: Any) -> None:
        """The same on an AsyncConnectionPool (its check is awaited; so is its putconn)."""
        self.pool = pool
        pool._check = self.check_async
        put = pool.putconn

        async def putconn(conn: Any) -> None:
            self.returned(conn)
            await put(conn)

        pool.putconn = putconn
