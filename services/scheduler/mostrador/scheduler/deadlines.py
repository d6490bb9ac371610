"""Durable deadlines, built from tickets' events and kept in the scheduler's own table.

Two kinds: a ticket's expiry (first message + TICKET_EXPIRY_HOURS, dropped once the ticket is final)
and a customer's 24 h window (last customer message + CHAT_WINDOW_HOURS, re-armed by every new one).
Rows are upserts guarded by a version, so duplicate and out-of-order events change nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from mostrador.events.schemas.tickets import TicketState
from mostrador.platform.db import Database

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS deadlines (
        kind TEXT NOT NULL, key TEXT NOT NULL, version BIGINT NOT NULL, due_ms BIGINT NOT NULL,
        state TEXT NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (kind, key))""",
    "CREATE INDEX IF NOT EXISTS deadlines_due ON deadlines (state, due_ms)",
]

PENDING, FIRED, CANCELLED = "pending", "fired", "cancelled"


def ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def from_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


class Deadlines:
    def __init__(self, db: Database, *, expiry: timedelta, window: timedelta) -> None:
        self.db, self.expiry, self.window = db, expiry, window
        db.migrate(SCHEMA)

    def _upsert(self, tx, kind: str, key: str, version: int, due: datetime, state: str,
                payload: dict[str, Any]) -> None:
        tx.execute(
            """INSERT INTO deadlines (kind, key, version, due_ms, state, payload)
               VALUES (%(kind)s, %(key)s, %(version)s, %(due)s, %(state)s, %(payload)s)
               ON CONFLICT (kind, key) DO UPDATE SET version = excluded.version, due_ms = excluded.due_ms,
                   state = CASE WHEN deadlines.state = 'fired' AND excluded.state = 'pending'
                                 AND excluded.due_ms = deadlines.due_ms THEN 'fired' ELSE excluded.state END,
                   payload = excluded.payload
               WHERE deadlines.version < excluded.version""",
            {"kind": kind, "key": key, "version": version, "due": ms(due), "state": state,
             "payload": json.dumps(payload, default=str)})

    def track(self, ticket: TicketState) -> None:
        """Arm, move or drop the deadlines a ticket's new state implies."""
        with self.db.transaction() as tx:
            expiry_state = CANCELLED if ticket.is_final else PENDING
            self._upsert(tx, "expiry", ticket.ticket_id, ticket.version, ticket.opened_at + self.expiry,
                         expiry_state, {"ticket_id": ticket.ticket_id, "number": ticket.number,
                                        "opened_at": ticket.opened_at.isoformat()})
            # The window follows the customer's last message; its timestamp is the version.
            last = ticket.last_message_at
            self._upsert(tx, "window", ticket.customer.key, ms(last), last + self.window, PENDING,
                         {"customer_key": ticket.customer.key, "ticket_id": ticket.ticket_id,
                          "number": ticket.number, "last_inbound_at": last.isoformat()})

    def due(self, now: datetime, limit: int = 500) -> list[dict[str, Any]]:
        rows = self.db.all("SELECT kind, key, version, due_ms, payload FROM deadlines"
                           " WHERE state = 'pending' AND due_ms <= %(now)s ORDER BY due_ms LIMIT %(limit)s",
                           {"now": ms(now), "limit": limit})
        return [{**r, "payload": json.loads(r["payload"])} for r in rows]

    def mark_fired(self, kind: str, key: str, version: int) -> None:
        """Only the version that fired: a deadline moved meanwhile stays pending."""
        with self.db.transaction() as tx:
            tx.execute("UPDATE deadlines SET state = 'fired' WHERE kind = %(kind)s AND key = %(key)s"
                       " AND version = %(version)s AND state = 'pending'",
                       {"kind": kind, "key": key, "version": version})

    def pending(self) -> list[dict[str, Any]]:
        return self.db.all("SELECT kind, key, due_ms, state FROM deadlines WHERE state = 'pending' ORDER BY due_ms")
