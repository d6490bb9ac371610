"""Plain SQL storage for read models and other non-event-sourced tables, on SQLite or PostgreSQL.

Statements are written once, in psycopg's ``%(name)s`` style; SQLite gets them translated. Each
service owns its database (its SQLite file, or its PostgreSQL schema) and nobody else's.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mostrador.platform.pgpool import IdleCheck

Statement = tuple[str, Mapping[str, Any] | None]

_NAMED = re.compile(r"%\((\w+)\)s")


class Tx:
    """One transaction: execute statements, read rows as dicts."""

    def __init__(self, cursor: Any, translate) -> None:
        self._cursor, self._translate = cursor, translate

    def execute(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> int:
        self._cursor.execute(self._translate(sql), params or {})
        return self._cursor.rowcount

    def executemany(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        self._cursor.executemany(self._translate(sql), rows)

    def copy(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """PostgreSQL only: COPY ``rows`` into ``table`` — far less work per row than INSERTs."""
        with self._cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def one(self, sql: str, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        self._cursor.execute(self._translate(sql), params or {})
        row = self._cursor.fetchone()
        return _as_dict(self._cursor, row) if row is not None else None

    def all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        self._cursor.execute(self._translate(sql), params or {})
        rows = self._cursor.fetchall()
        if rows and isinstance(rows[0], tuple):  # psycopg
            return tuples_as_dicts(self._cursor.description, rows)
        return [_as_dict(self._cursor, r) for r in rows]

    def claim(self, key: str) -> bool:
        """Mark a message as applied in this transaction; False if it already was (a redelivery)."""
        return self.execute("INSERT INTO processed_events (event_id) VALUES (%(k)s) ON CONFLICT DO NOTHING",
                            {"k": key}) == 1


def tuples_as_dicts(description: Any, rows: Sequence[tuple]) -> list[dict[str, Any]]:
    """psycopg rows as dicts, the column names taken once, not per row (bench B4)."""
    names = [d[0] for d in description or ()]
    return [dict(zip(names, r, strict=True)) for r in rows]


def _as_dict(cursor: Any, row: Any) -> dict[str, Any]:
    if isinstance(row, dict):
        return row
    if isinstance(row, sqlite3.Row):
        return dict(row)
    return {d[0]: v for d, v in zip(cursor.description, row, strict=True)}


def _lower_unicode(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


@dataclass(frozen=True)
class AddColumn:
    """A column added to an existing table (a table created before it was in its CREATE TABLE):
    added once, then ``backfill`` (this dialect's UPDATE) fills it from what the rows already hold."""

    table: str
    column: str
    declaration: str
    backfill: dict[str, str]  # dialect -> statement


class Database:
    dialect: str

    def migrate(self, statements: Sequence[str], columns: Sequence[AddColumn] = ()) -> None:
        with self.transaction() as tx:
            self._serialize_migrations(tx)
            tx.execute("CREATE TABLE IF NOT EXISTS processed_events (event_id TEXT PRIMARY KEY)")
            for statement in statements:
                tx.execute(statement)
            for added in columns:
                if not self._has_column(tx, added.table, added.column):
                    tx.execute(f"ALTER TABLE {added.table} ADD COLUMN {added.column} {added.declaration}")
                    if self.dialect in added.backfill:
                        tx.execute(added.backfill[self.dialect])

    def _has_column(self, tx: Tx, table: str, column: str) -> bool:
        if self.dialect == "sqlite":
            return any(row["name"] == column for row in tx.all(f"PRAGMA table_info({table})"))
        return tx.one("SELECT 1 AS found FROM information_schema.columns WHERE table_schema = current_schema()"
                      " AND table_name = %(t)s AND column_name = %(c)s", {"t": table, "c": column}) is not None

    def _serialize_migrations(self, tx: Tx) -> None:
        """SQLite: BEGIN IMMEDIATE already lets one migration run at a time."""

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        raise NotImplementedError

    @contextmanager
    def autocommit(self) -> Iterator[Tx]:
        """One connection on which each statement is its own transaction: for reads (and single-statement
        writes), without BEGIN and COMMIT — on PostgreSQL two round trips fewer (bench B4). By default,
        a transaction."""
        with self.transaction() as tx:
            yield tx

    def all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        with self.autocommit() as tx:
            return tx.all(sql, params)

    def one(self, sql: str, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        with self.autocommit() as tx:
            return tx.one(sql, params)

    async def read(self, statements: Sequence[Statement]) -> list[list[dict[str, Any]]]:
        """From async code: run read statements on one connection, each on its own (autocommit), and
        return the rows of each. Here in a worker thread; PostgreSQL's does without one."""
        return await asyncio.to_thread(self._read, statements)

    def _read(self, statements: Sequence[Statement]) -> list[list[dict[str, Any]]]:
        with self.autocommit() as tx:
            return [tx.all(sql, params) for sql, params in statements]

    async def aclose(self) -> None:
        """Close what ``read`` opened (call from the event loop that used it), before ``close``."""

    def close(self) -> None:
        pass


class SqliteDatabase(Database):
    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            # SQLite's lower() folds ASCII only ("Álvarez" stays); this one folds like PostgreSQL's.
            conn.create_function("lower_unicode", 1, _lower_unicode, deterministic=True)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @staticmethod
    def _translate(sql: str) -> str:
        return _NAMED.sub(r":\1", sql).replace("%s", "?").replace("%%", "%")

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        conn = self._connection()
        cursor = conn.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            yield Tx(cursor, self._translate)
        except BaseException:
            conn.rollback()
            raise
        else:
            conn.commit()
        finally:
            cursor.close()

    @contextmanager
    def autocommit(self) -> Iterator[Tx]:
        # isolation_level=None: outside BEGIN, sqlite3 commits each statement; and a read takes no write
        # lock, which transaction()'s BEGIN IMMEDIATE does.
        cursor = self._connection().cursor()
        try:
            yield Tx(cursor, self._translate)
        finally:
            cursor.close()

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


def ddl_lock_key(schema: str) -> str:
    """The advisory lock a process holds while it creates a schema or its tables (here and esapp)."""
    return f"mostrador-ddl:{schema}"


class PostgresDatabase(Database):
    dialect = "postgres"

    def __init__(self, url: str, schema: str, *, pool_size: int = 5) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool

        with psycopg.connect(url) as conn, conn.transaction():  # each service owns (and creates) its schema
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (ddl_lock_key(schema),))
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        self.url, self.schema = url, schema
        self.pool = ConnectionPool(url, min_size=1, max_size=pool_size, open=True, timeout=10,
                                   kwargs={"options": f"-c search_path={schema}", "autocommit": True})
        IdleCheck().install(self.pool)  # no ping per checkout: see pgpool.py
        self._pool_size = pool_size
        self._async_pool: Any = None  # read()'s, opened on first use in its event loop
        self._async_loop: asyncio.AbstractEventLoop | None = None
        self._async_opening = threading.Lock()

    @staticmethod
    def _translate(sql: str) -> str:
        return sql

    def _serialize_migrations(self, tx: Tx) -> None:
        # Processes of one service starting together (WORKERS, replicas) take turns: concurrent
        # CREATE ... IF NOT EXISTS of the same table can fail on PostgreSQL's catalog unique index.
        tx.execute("SELECT pg_advisory_xact_lock(hashtext(%(k)s))", {"k": ddl_lock_key(self.schema)})

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        # The connections are in autocommit mode: transaction() is the explicit BEGIN ... COMMIT.
        with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
            yield Tx(cursor, self._translate)

    @contextmanager
    def autocommit(self) -> Iterator[Tx]:
        with self.pool.connection() as conn, conn.cursor() as cursor:
            yield Tx(cursor, self._translate)

    async def read(self, statements: Sequence[Statement]) -> list[list[dict[str, Any]]]:
        """On an async connection pool: a worker-thread hop cost more CPU than the query it ran (the
        board list under 16 clients: ~300 us a statement through a thread, ~110 us this way; bench B4).
        The pool belongs to the first event loop that reads; any other loop reads through a thread."""
        pool = await self._reader()
        if pool is None:
            return await super().read(statements)
        async with pool.connection() as conn:
            out = []
            for sql, params in statements:
                cursor = await conn.execute(sql, params or {})
                out.append(tuples_as_dicts(cursor.description, await cursor.fetchall()))
            return out

    async def _reader(self) -> Any:
        from psycopg_pool import AsyncConnectionPool

        loop = asyncio.get_running_loop()
        with self._async_opening:
            if self._async_loop is None:
                self._async_loop = loop
                self._async_pool = AsyncConnectionPool(
                    self.url, min_size=1, max_size=self._pool_size, open=False, timeout=10,
                    kwargs={"options": f"-c search_path={self.schema}", "autocommit": True})
                IdleCheck().install_async(self._async_pool)
            if self._async_loop is not loop:
                return None
            pool = self._async_pool
        if pool.closed:
            await pool.open()
        return pool

    async def aclose(self) -> None:
        if self._async_pool is not None and self._async_loop is asyncio.get_running_loop():
            await self._async_pool.close()

    def close(self) -> None:
        self.pool.close()


def open_database(settings: Any, name: str) -> Database:
    """The service's own database: PostgreSQL schema when DATABASE_URL is set, else an SQLite file."""
    if settings.database_url:
        return PostgresDatabase(settings.database_url, settings.schema_for(name), pool_size=settings.db_pool_size)
    return SqliteDatabase(settings.sqlite_path(name))
