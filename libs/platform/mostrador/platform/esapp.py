"""The base of every event-sourced service application, and its storage environment.

A consumer must apply each integration event at most once. We record the event's id as a
tracking row *in the same transaction* as the new domain events (the library's process
recorder), so a redelivered message is recognised and a crash can never half-apply one.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse

from eventsourcing.application import Application, LRUCache, ProcessingEvent
from eventsourcing.persistence import IntegrityError, Recording, Tracking
from psycopg_pool import ConnectionPool

from mostrador.events.envelope import HANDLING, cause_of
from mostrador.platform.db import ddl_lock_key
from mostrador.platform.groupcommit import RECORDER_TOPICS, event_store_groups
from mostrador.platform.pgpool import IdleCheck
from mostrador.platform.settings import Settings

T = TypeVar("T")
LATEST = 2**31 - 1  # "up to this version" reads past the cache, from the latest snapshot on


class VersionedCache(LRUCache):
    """The library's aggregate cache, but a copy never replaces a newer one. Without fast-forwarding,
    the library puts every saved aggregate (and every one it had to read) into the cache; two threads
    finishing in the other order — or a slow read racing a save — would leave an older version there."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize)
        self._puts = threading.Lock()

    def put(self, key: Any, value: Any) -> Any:
        with self._puts:
            link = self.cache.get(key)
            cached = link[self.RESULT] if link is not None else None
            if cached is not None and value is not None and cached.version >= value.version:
                return None
            return super().put(key, value)


class AlreadyProcessed(Exception):
    """The message with this key was applied before: acknowledge it and do nothing."""


class ServiceApplication(Application):
    def __init__(self, env: dict[str, str] | None = None) -> None:
        with schema_lock(env or {}):  # several processes starting at once must not race on CREATE TABLE
            super().__init__(env)
        self._save_listeners: list[Callable[[], None]] = []
        if isinstance(self.repository.cache, LRUCache):
            self.repository.cache = VersionedCache(self.repository.cache.maxsize)
        pool = getattr(getattr(self.recorder, "datastore", None), "pool", None)
        if isinstance(pool, ConnectionPool):  # PostgreSQL: no ping per checkout (pgpool.py)
            IdleCheck().install(pool)
        # Concurrent saves share transactions (groupcommit.py) where the recorder takes several
        # tracking rows (ours, named by eventsourcing_env); GROUP_COMMIT=1 saves each on its own.
        limit = int(self.env.get("GROUP_COMMIT") or 1)
        grouped = limit > 1 and self.env.get("PROCESS_RECORDER_TOPIC") in RECORDER_TOPICS.values()
        self._group = event_store_groups(self._record, limit) if grouped else None

    def construct_recorder(self):  # type: ignore[override]
        return self.factory.process_recorder()

    def on_save(self, listener: Callable[[], None]) -> None:
        """Called after each commit (the outbox relay uses it to wake up at once)."""
        self._save_listeners.append(listener)

    def latest(self, aggregate_id: Any) -> Any:
        """The aggregate as stored now, never the cached copy: for a decision that reads without
        writing (a write with a stale copy fails and is retried; a read would just be wrong)."""
        return self.repository.get(aggregate_id, version=LATEST)

    def processed(self, key: str) -> bool:
        return self.recorder.has_tracking_id(key, 1)

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording]:  # type: ignore[override]
        return self.save_processed(None, *objs)

    def save_processed(self, key: str | None, *objs: Any) -> list[Recording]:
        """Commit the pending events of ``objs`` and, atomically, the mark that ``key`` was applied."""
        processing = ProcessingEvent(Tracking(key, 1) if key else None)
        processing.collect_events(*objs)
        stamp_cause(processing.events)
        recordings = self._group.run(processing) if self._group else self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        for listener in self._save_listeners:
            listener()
        return recordings

    def apply_once(self, key: str, command: Callable[[], Sequence[Any]], attempts: int = 40) -> list[Recording]:
        """Run ``command`` (which loads aggregates, changes them and returns them) and save its result
        marked with ``key``. A concurrent writer makes us reload and run it again; a key already
        applied raises AlreadyProcessed (or changes nothing, when it would change nothing anyway).

        No look-up of ``key`` before the work: the mark is saved in the same transaction, so a repeat
        fails to save (or its command fails) and only then do we ask — one query less per message
        for the common case, a message seen once."""
        fresh = False
        for attempt in range(attempts):
            try:
                objs = command()
            except AlreadyProcessed:
                raise
            except Exception:
                if self.processed(key):  # e.g. a repeated command the first run made impossible
                    raise AlreadyProcessed(key) from None
                if not fresh and self._forget_all():  # was it misled by a stale cached aggregate?
                    fresh = True
                    continue
                raise
            if not any(getattr(obj, "pending_events", None) for obj in objs):
                # Nothing changed: no transaction, and no mark either. Seen again, the message is
                # looked at again and changes nothing again — every rule here only moves forward
                # (a status already passed, a message already handled). Two of chat's eight
                # transactions per customer message were such no-ops (delivery statuses; bench B2).
                return []
            try:
                return self.save_processed(key, *objs)
            except IntegrityError:
                if self.processed(key):
                    raise AlreadyProcessed(key) from None
                self._forget(objs)  # another writer got there first: our cached copies are stale
                if attempt == attempts - 1:
                    raise
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))  # let the other writer finish
        raise AssertionError("unreachable")

    def _forget_all(self) -> bool:
        """Empty the aggregate cache (True if there was one to empty)."""
        cache = self.repository.cache
        if not isinstance(cache, LRUCache):
            return False
        self.repository.cache = VersionedCache(cache.maxsize)
        return True

    def _forget(self, objs: Sequence[Any]) -> None:
        """Drop aggregates from the cache, so the next get() reads them from the store. The cache is
        not fast-forwarded on every get (AGGREGATE_CACHE_FASTFORWARD=n: a query per get saved), which
        is right while this process is their only writer; another writer shows up as a conflict."""
        cache = self.repository.cache
        if cache is None:
            return
        for obj in objs:
            try:
                cache.get(obj.id, evict=True)
            except KeyError:
                pass


@contextmanager
def schema_lock(env: dict[str, str]) -> Iterator[None]:
    """On PostgreSQL, hold an advisory lock named after the schema while its tables are created."""
    if env.get("PERSISTENCE_MODULE") != "eventsourcing.postgres":
        yield
        return
    import psycopg
    conninfo = psycopg.conninfo.make_conninfo(
        dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"], password=env.get("POSTGRES_PASSWORD") or None)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        schema = env.get("POSTGRES_SCHEMA", "public")
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (ddl_lock_key(schema),))
        try:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (ddl_lock_key(schema),))


def service_env(s: Settings, service: str) -> dict[str, str]:
    """A service's event store: PostgreSQL with DATABASE_URL, else an SQLite file in DATA_DIR."""
    return eventsourcing_env(database_url=s.database_url,
                             sqlite_path=None if s.database_url else s.sqlite_path(service),
                             schema=s.schema_for(service), pool_size=s.db_pool_size,
                             group_commit=s.db_group_commit)


def stamp_cause(events: Sequence[Any]) -> None:
    """Store with each new domain event the correlation and cause of the message being handled
    (envelope.HANDLING), here in the handler's own thread — a group commit writes others' events too.
    They travel as two more entries of the event's state, which the aggregates' methods never see
    (the library passes them only the arguments they name), and the relay reads back (relay.py)."""
    cause = cause_of(HANDLING.get())
    if cause:
        for domain_event in events:
            for name, value in cause.items():
                object.__setattr__(domain_event, f"_{name}", value)  # frozen dataclasses


def eventsourcing_env(*, database_url: str | None, sqlite_path: str | None, schema: str,
                      pool_size: int = 5, group_commit: int = 32) -> dict[str, str]:
    """The library is configured only by environment mappings: build one from our settings."""
    # Cached aggregates are not re-read on every get (see ServiceApplication._forget); concurrent
    # saves share transactions (groupcommit.py), through recorders that take several tracking rows.
    cache = {"AGGREGATE_CACHE_FASTFORWARD": "n", "GROUP_COMMIT": str(group_commit)}
    if database_url:
        url = urlparse(database_url)
        return {**cache,
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "PROCESS_RECORDER_TOPIC": RECORDER_TOPICS["eventsourcing.postgres"],
            "POSTGRES_DBNAME": (url.path or "/postgres").lstrip("/") or "postgres",
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_SCHEMA": schema,
            "POSTGRES_POOL_SIZE": str(pool_size),
            "POSTGRES_MAX_OVERFLOW": str(pool_size),
            "POSTGRES_PRE_PING": "n",  # IdleCheck instead (pgpool.py)
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_LOCK_TIMEOUT": "10",
        }
    if not sqlite_path:
        raise ValueError("need a DATABASE_URL or an SQLite path")
    return {**cache,
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "PROCESS_RECORDER_TOPIC": RECORDER_TOPICS["eventsourcing.sqlite"],
        "SQLITE_DBNAME": sqlite_path,
        "SQLITE_LOCK_TIMEOUT": "10",
    }
