"""Secrets handling: argon2id password hashes, opaque tokens stored only as hashes, the login
throttle, and the security headers of every panel response.

Nothing here logs a password or a token; callers log usernames and outcomes only (ASVS V7)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from mostrador.platform.db import Database

# OWASP Password Storage Cheat Sheet minimum for argon2id: 19 MiB, 2 iterations, 1 lane (~20 ms here).
HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_dummy_hash: str | None = None

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; "
                               "base-uri 'self'; form-action 'self'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Constant work whether or not the user exists: an unknown user is checked against a dummy
    hash, so response time does not reveal which usernames are real."""
    global _dummy_hash
    if stored is None:
        _dummy_hash = _dummy_hash or HASHER.hash(secrets.token_urlsafe(16))
        stored = _dummy_hash
        password = password + "\0never"
    try:
        return HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return HASHER.check_needs_rehash(stored)


def new_token() -> str:
    """256 random bits, URL-safe (sessions, bearer tokens, CSRF tokens)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    # Tokens carry 256 bits of entropy, so a fast hash is enough: a stolen table yields nothing usable.
    return hashlib.sha256(token.encode()).hexdigest()


def new_password() -> str:
    return secrets.token_urlsafe(15)  # 20 characters, 120 bits


THROTTLE_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS login_failures (
        key TEXT PRIMARY KEY, failures INTEGER NOT NULL, last_ms BIGINT NOT NULL,
        locked_until_ms BIGINT NOT NULL DEFAULT 0)""",
]


@dataclass
class LoginThrottle:
    """Failed logins counted per username and per client IP (ASVS 2.2.1 names both). Each failure
    is answered a little later than the one before; at ``max_failures`` the key is refused (429)
    for ``lockout_seconds``. Counts live in the database, so a restart does not reset them."""

    db: Database
    clock: object  # mostrador.platform.clock.Clock
    max_failures: int
    lockout_seconds: float
    base_delay: float = 0.25
    max_delay: float = 2.0

    def __post_init__(self) -> None:
        self.db.migrate(THROTTLE_SCHEMA)

    def _now_ms(self) -> int:
        now: datetime = self.clock.now()  # type: ignore[attr-defined]
        return int(now.timestamp() * 1000)

    def retry_after(self, keys: list[str]) -> float | None:
        """Seconds until the login may be tried again, or None when none of the keys is locked."""
        now = self._now_ms()
        params = {f"k{i}": k for i, k in enumerate(keys)}
        names = ", ".join(f"%(k{i})s" for i in range(len(keys)))
        row = self.db.one(f"SELECT MAX(locked_until_ms) AS until FROM login_failures WHERE key IN ({names})", params)
        until = int(row["until"] or 0) if row else 0
        return (until - now) / 1000 if until > now else None

    def failed(self, keys: list[str]) -> int:
        """Count a failure against every key; returns the highest count (it sets the delay)."""
        now, window = self._now_ms(), int(self.lockout_seconds * 1000)
        highest = 0
        with self.db.transaction() as tx:
            for key in keys:
                row = tx.one("SELECT failures, last_ms, locked_until_ms FROM login_failures WHERE key = %(k)s",
                             {"k": key})
                # A served lockout, or a quiet spell as long as one, starts the count afresh.
                stale = row is None or (row["locked_until_ms"] and row["locked_until_ms"] <= now) \
                    or now - row["last_ms"] > window
                failures = 1 if stale else int(row["failures"]) + 1
                locked = now + window if failures >= self.max_failures else 0
                tx.execute("""INSERT INTO login_failures (key, failures, last_ms, locked_until_ms)
                              VALUES (%(k)s, %(f)s, %(now)s, %(locked)s)
                              ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
                                  last_ms = excluded.last_ms, locked_until_ms = excluded.locked_until_ms""",
                           {"k": key, "f": failures, "now": now, "locked": locked})
                highest = max(highest, failures)
        return highest

    def delay(self, failures: int) -> float:
        """How long to hold the answer to a failed login: doubling, capped (slows guessing, and
        protects the CPU, since one argon2 verify costs ~20 ms)."""
        return min(self.base_delay * 2 ** max(failures - 1, 0), self.max_delay)

    def succeeded(self, key: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM login_failures WHERE key = %(k)s", {"k": key})
