"""Panel users and their server-side sessions, in panel-api's own database.

A session is a row keyed by the *hash* of the cookie secret, with a second hashed secret for the
bearer token and a CSRF token: a stolen table gives nothing that logs in. Sessions expire after
``idle_hours`` without use, and are revoked by logout, deactivation and password changes."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mostrador.panel_api.security import (
    hash_password,
    needs_rehash,
    new_password,
    new_token,
    token_hash,
    verify_password,
)
from mostrador.platform.db import Database

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS users (
        username TEXT PRIMARY KEY, display_name TEXT NOT NULL, role TEXT NOT NULL, password_hash TEXT NOT NULL,
        branches TEXT, active INTEGER NOT NULL DEFAULT 1, created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS sessions (
        id TEXT PRIMARY KEY, bearer_hash TEXT NOT NULL UNIQUE, username TEXT NOT NULL, csrf_token TEXT NOT NULL,
        created_ms BIGINT NOT NULL, last_seen_ms BIGINT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS sessions_user ON sessions (username)",
    "CREATE INDEX IF NOT EXISTS sessions_seen ON sessions (last_seen_ms)",
]
TOUCH_EVERY_MS = 30_000  # write last_seen at most this often: reads stay reads


class UserExists(Exception):
    pass


class UnknownUser(LookupError):
    pass


@dataclass(frozen=True)
class User:
    username: str
    display_name: str
    role: str
    branches: list[str] | None
    active: bool

    @property
    def scope(self) -> list[str] | None:
        """Branches whose tickets this user may see; None means every branch (and unassigned ones)."""
        return None if self.role == "admin" else self.branches

    def public(self) -> dict[str, Any]:
        return {"username": self.username, "display_name": self.display_name, "role": self.role,
                "branches": self.branches, "active": self.active}


@dataclass(frozen=True)
class Session:
    id: str  # the hash of the cookie secret
    username: str
    csrf_token: str


@dataclass(frozen=True)
class NewSession:
    session: Session
    cookie_token: str
    bearer_token: str


def _user(row: dict[str, Any]) -> User:
    return User(row["username"], row["display_name"], row["role"],
                json.loads(row["branches"]) if row["branches"] is not None else None, bool(row["active"]))


class UserStore:
    def __init__(self, db: Database, clock, idle_hours: float) -> None:
        self.db, self.clock = db, clock
        self.idle_ms = int(timedelta(hours=idle_hours).total_seconds() * 1000)
        db.migrate(SCHEMA)

    def _now(self) -> int:
        now: datetime = self.clock.now()
        return int(now.timestamp() * 1000)

    # -- users -------------------------------------------------------------------------------------

    def get(self, username: str) -> User | None:
        row = self.db.one("SELECT * FROM users WHERE username = %(u)s", {"u": username.lower()})
        return _user(row) if row else None

    def all_users(self) -> list[User]:
        return [_user(r) for r in self.db.all("SELECT * FROM users ORDER BY username")]

    def count(self) -> int:
        row = self.db.one("SELECT COUNT(*) AS n FROM users")
        return int(row["n"]) if row else 0

    def active_admins(self) -> int:
        row = self.db.one("SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND active = 1")
        return int(row["n"]) if row else 0

    def create(self, username: str, display_name: str, password: str, role: str = "operator",
               branches: list[str] | None = None) -> User:
        now, username = self._now(), username.lower()
        row = {"u": username, "d": display_name, "r": role, "h": hash_password(password),
               "b": json.dumps(sorted(set(branches))) if branches is not None else None, "now": now}
        with self.db.transaction() as tx:
            inserted = tx.execute("""INSERT INTO users (username, display_name, role, password_hash, branches, active,
                                         created_ms, updated_ms)
                                     VALUES (%(u)s, %(d)s, %(r)s, %(h)s, %(b)s, 1, %(now)s, %(now)s)
                                     ON CONFLICT (username) DO NOTHING""", row)
        if inserted != 1:
            raise UserExists(username)
        return self.get(username)  # type: ignore[return-value]

    def update(self, username: str, **fields: Any) -> User:
        """Change display_name, role, branches (None: every branch) or active."""
        sets, params = [], {"u": username.lower(), "now": self._now()}
        for name in ("display_name", "role", "branches", "active"):
            if name in fields:
                value = fields[name]
                if name == "branches":
                    value = json.dumps(sorted(set(value))) if value is not None else None
                if name == "active":
                    value = int(bool(value))
                sets.append(f"{name} = %({name})s")
                params[name] = value
        with self.db.transaction() as tx:
            found = tx.execute(f"UPDATE users SET {', '.join(sets + ['updated_ms = %(now)s'])}"
                               " WHERE username = %(u)s", params)
        if found != 1:
            raise UnknownUser(username)
        if fields.get("active") is False:
            self.revoke_all(username)
        return self.get(username)  # type: ignore[return-value]

    def set_password(self, username: str, password: str) -> None:
        with self.db.transaction() as tx:
            found = tx.execute("UPDATE users SET password_hash = %(h)s, updated_ms = %(now)s WHERE username = %(u)s",
                               {"h": hash_password(password), "now": self._now(), "u": username.lower()})
        if found != 1:
            raise UnknownUser(username)

    def check_password(self, username: str, password: str) -> User | None:
        """The active user with this password, else None (same cost for unknown users)."""
        row = self.db.one("SELECT * FROM users WHERE username = %(u)s", {"u": username.lower()})
        ok = verify_password(row["password_hash"] if row else None, password)
        if not ok or row is None or not row["active"]:
            return None
        if needs_rehash(row["password_hash"]):  # parameters were raised since this hash was made
            self.set_password(row["username"], password)
        return _user(row)

    def ensure_first_admin(self, username: str | None, password: str | None) -> str | None:
        """Create the first admin. From ADMIN_USERNAME/ADMIN_PASSWORD when both are set (an existing
        user is left alone: its password may have been changed since). Otherwise, only when there
        are no users at all, ``admin`` with a random password, which is returned (once) to be shown."""
        if username and password:
            if self.get(username) is None:
                with contextlib.suppress(UserExists):  # another worker of this service made it first
                    self.create(username, "Administrador", password, role="admin")
            return None
        if self.count() > 0:
            return None
        generated = new_password()
        try:
            self.create("admin", "Administrador", generated, role="admin")
        except UserExists:  # another worker made it, and shows its own password
            return None
        return generated

    # -- sessions ----------------------------------------------------------------------------------

    def open_session(self, username: str) -> NewSession:
        cookie, bearer, csrf, now = new_token(), new_token(), new_token(), self._now()
        session = Session(token_hash(cookie), username.lower(), csrf)
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM sessions WHERE last_seen_ms < %(cut)s", {"cut": now - self.idle_ms})
            tx.execute("""INSERT INTO sessions (id, bearer_hash, username, csrf_token, created_ms, last_seen_ms)
                          VALUES (%(id)s, %(b)s, %(u)s, %(c)s, %(now)s, %(now)s)""",
                       {"id": session.id, "b": token_hash(bearer), "u": session.username, "c": csrf, "now": now})
        return NewSession(session, cookie, bearer)

    def resolve(self, token: str, kind: str) -> tuple[Session, User] | None:
        """The live session (and its active user) for a cookie or bearer token, refreshing its idle timer."""
        found, write = self._live(self.db.one(self._resolve_sql(kind), {"h": token_hash(token)}))
        if write is not None:
            write()
        return found

    async def resolve_async(self, token: str, kind: str) -> tuple[Session, User] | None:
        """``resolve`` from the event loop: the look-up without a worker thread (Database.read); the
        rare write (an expiry, the idle timer every TOUCH_EVERY_MS) in one."""
        (rows,) = await self.db.read([(self._resolve_sql(kind), {"h": token_hash(token)})])
        found, write = self._live(rows[0] if rows else None)
        if write is not None:
            await asyncio.to_thread(write)
        return found

    @staticmethod
    def _resolve_sql(kind: str) -> str:
        column = "id" if kind == "cookie" else "bearer_hash"
        return f"""SELECT s.id, s.username, s.csrf_token, s.last_seen_ms, u.display_name, u.role, u.branches, u.active
                   FROM sessions s JOIN users u ON u.username = s.username WHERE s.{column} = %(h)s"""

    def _live(self, row: dict[str, Any] | None) -> tuple[tuple[Session, User] | None, Callable[[], None] | None]:
        """The session a looked-up row stands for (None: none, inactive or expired) and the write it
        calls for, if any: an expired session is removed, a live one's idle timer moved on."""
        if row is None or not row["active"]:
            return None, None
        now = self._now()
        if now - row["last_seen_ms"] >= self.idle_ms:
            return None, lambda: self.revoke(row["id"])
        touch = None
        if now - row["last_seen_ms"] >= TOUCH_EVERY_MS:
            def touch() -> None:
                with self.db.transaction() as tx:
                    tx.execute("UPDATE sessions SET last_seen_ms = %(now)s WHERE id = %(id)s", {"now": now, "id": row["id"]})
        return (Session(row["id"], row["username"], row["csrf_token"]), _user(row)), touch

    def session_user(self, session_id: str) -> User | None:
        """The user behind a live session (None: expired, revoked or deactivated), without touching it:
        long-lived streams re-check with this, so a revoked session stops receiving at once."""
        row = self.db.one("""SELECT s.last_seen_ms, u.* FROM sessions s JOIN users u ON u.username = s.username
                             WHERE s.id = %(id)s""", {"id": session_id})
        if row is None or not row["active"] or self._now() - row["last_seen_ms"] >= self.idle_ms:
            return None
        return _user(row)

    def revoke(self, session_id: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM sessions WHERE id = %(id)s", {"id": session_id})

    def revoke_all(self, username: str, *, keep: str | None = None) -> int:
        with self.db.transaction() as tx:
            return tx.execute("DELETE FROM sessions WHERE username = %(u)s AND id <> %(keep)s",
                              {"u": username.lower(), "keep": keep or ""})
