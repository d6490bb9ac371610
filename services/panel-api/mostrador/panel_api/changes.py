"""The board's changes, to every panel-api process.

In distributed mode panel-api may run as several processes (WORKERS, or replicas): the bus hands
each event to one of them, but a browser's live stream may be held by any. So on PostgreSQL a
change is not handed to the local StreamHub: it is a NOTIFY on the schema's channel, sent once the
projection committed, and every process LISTENs on its own connection and feeds its own hub. A
listener that lost its connection tells its streams to reload (``reset``): changes may have gone by
unheard. Embedded mode (SQLite, one process) wires the views straight to the hub instead."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import structlog

from mostrador.platform.db import PostgresDatabase

log = structlog.get_logger("panel.changes")
RETRY_SECONDS = 1.0
APPLICATION_NAME = "mostrador-panel-changes"  # how the listener shows in pg_stat_activity


class PostgresChanges:
    def __init__(self, db: PostgresDatabase, deliver: Callable[[dict[str, Any]], None],
                 reset: Callable[[], None], *, retry: float = RETRY_SECONDS) -> None:
        self.db, self.deliver, self.reset, self.retry = db, deliver, reset, retry
        self.channel = f"{db.schema}.changes"  # one deployment's processes, not a neighbour schema's
        self.listening = asyncio.Event()
        self._task: asyncio.Task | None = None

    def publish(self, change: dict[str, Any]) -> None:
        """A views listener (a worker thread, after the commit). The change is already stored, so a
        failure here only costs the live push: logged, and the streams reload when the listeners
        reconnect."""
        try:
            self.db.one("SELECT pg_notify(%(c)s, %(p)s) AS sent",
                        {"c": self.channel, "p": json.dumps(change, default=str)})
        except Exception as exc:  # noqa: BLE001 - psycopg or pool errors: the database is away
            log.warning("panel.change_not_sent", kind=change.get("kind"), error=str(exc))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="panel-changes")
        with contextlib.suppress(TimeoutError):  # not yet: /readyz says so until it is
            await asyncio.wait_for(self.listening.wait(), 10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def ready(self) -> bool:
        return self.listening.is_set()

    async def _listen(self) -> None:
        import psycopg
        from psycopg import sql

        first = True
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.db.url, autocommit=True,
                                                               application_name=APPLICATION_NAME) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    self.listening.set()
                    if not first:
                        self.reset()
                        log.info("panel.changes_listening_again")
                    first = False
                    async for notice in conn.notifies():
                        try:
                            self.deliver(json.loads(notice.payload))
                        except ValueError:
                            log.warning("panel.change_unreadable", payload=notice.payload[:200])
            except (psycopg.Error, OSError) as exc:
                if self.listening.is_set() or first:
                    log.warning("panel.changes_not_listening", error=str(exc))
            self.listening.clear()
            await asyncio.sleep(self.retry)
