"""Read models of the panel, built from tickets.* and chat.* events.

Every event carries the whole state of its ticket / message / conversation with a version, so each
projection is an upsert guarded by ``version``: a duplicate or an older event changes nothing, and
delivery order does not matter. Rebuilding is replaying the producers' events into empty tables.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from mostrador.events.schemas.chat import ConversationState, MessageState
from mostrador.events.schemas.tickets import TicketState
from mostrador.platform.db import AddColumn, Database, Tx

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS tickets (
        number BIGINT PRIMARY KEY, ticket_id TEXT NOT NULL, version INTEGER NOT NULL,
        customer_key TEXT NOT NULL, phone TEXT, phone_rev TEXT, name TEXT, type TEXT NOT NULL, status TEXT NOT NULL,
        branch TEXT, topic TEXT, opened_ms BIGINT NOT NULL, last_message_ms BIGINT NOT NULL,
        unread INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL, missing TEXT NOT NULL DEFAULT '[]')""",
    # Keyset pagination: every filter has an index ending in the sort key, so a page is an index range.
    "CREATE INDEX IF NOT EXISTS tickets_status ON tickets (status, number DESC)",
    "CREATE INDEX IF NOT EXISTS tickets_type ON tickets (type, number DESC)",
    "CREATE INDEX IF NOT EXISTS tickets_branch ON tickets (branch, status, number DESC)",
    # all three header filters at once: without it the capped count read a whole (branch, status)
    # bucket to find its 1,001 rows of one type (12,000 rows at 1,000,000 tickets; bench B4)
    "CREATE INDEX IF NOT EXISTS tickets_branch_status_type ON tickets (branch, status, type, number DESC)",
    "CREATE INDEX IF NOT EXISTS tickets_topic ON tickets (topic, number DESC)",
    "CREATE INDEX IF NOT EXISTS tickets_customer ON tickets (customer_key, number DESC)",
    "CREATE INDEX IF NOT EXISTS tickets_phone ON tickets (phone)",
    "CREATE INDEX IF NOT EXISTS tickets_phone_rev ON tickets (phone_rev)",  # "ends with" as a range scan
    "CREATE INDEX IF NOT EXISTS tickets_last_message ON tickets (last_message_ms DESC, number DESC)",
    "CREATE INDEX IF NOT EXISTS tickets_branch_last ON tickets (branch, last_message_ms DESC, number DESC)",
    "CREATE INDEX IF NOT EXISTS tickets_status_last ON tickets (status, last_message_ms DESC, number DESC)",
    "CREATE INDEX IF NOT EXISTS tickets_unread ON tickets (last_message_ms DESC, number DESC) WHERE unread > 0",
    # "Unread" within a branch (the filter, or an operator's scope): without these the page walked the whole
    # table backwards and the capped count intersected two big bitmaps (1M tickets: 8 and 25 ms; bench B4).
    "CREATE INDEX IF NOT EXISTS tickets_unread_branch ON tickets (branch, number DESC) WHERE unread > 0",
    ("CREATE INDEX IF NOT EXISTS tickets_unread_branch_last ON tickets (branch, last_message_ms DESC, number DESC)"
     " WHERE unread > 0"),
    """CREATE TABLE IF NOT EXISTS conversations (
        customer_key TEXT PRIMARY KEY, version INTEGER NOT NULL, number BIGINT, unread INTEGER NOT NULL,
        last_inbound_ms BIGINT, window_closes_ms BIGINT, state TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS messages (
        message_id TEXT PRIMARY KEY, customer_key TEXT NOT NULL, number BIGINT, version INTEGER NOT NULL,
        at_ms BIGINT NOT NULL, state TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS messages_ticket ON messages (number, at_ms)",
    "CREATE INDEX IF NOT EXISTS messages_customer ON messages (customer_key, at_ms)",
    # Which ticket an inbound photo belongs to, so /api/media/{id} can check the caller's branches.
    "CREATE TABLE IF NOT EXISTS media (media_id TEXT PRIMARY KEY, message_id TEXT NOT NULL, number BIGINT)",
]

# The Nombre and Fecha filters. PostgreSQL: byte-wise name keys, so LIKE 'prefix%' (filters.NAME_KEY) is a
# range whatever the collation; INCLUDE (name) makes the capped count of a common name an index-only scan;
# the name in the Fecha index too, so a day plus a common name reads that day's entries, not every «Juan»
# (bench B4). SQLite folds case in Python (lower_unicode), which no index can use: embedded tables are small.
POSTGRES_SCHEMA = [
    "CREATE INDEX IF NOT EXISTS tickets_name ON tickets (lower(name) text_pattern_ops) INCLUDE (name)",
    "CREATE INDEX IF NOT EXISTS tickets_opened ON tickets (opened_ms, lower(name) text_pattern_ops)",
]
SQLITE_SCHEMA = ["CREATE INDEX IF NOT EXISTS tickets_opened ON tickets (opened_ms)"]
# The state's ``missing`` list (JSON) beside it: a board page read 50 whole states, history and all,
# for that list alone — a quarter of PostgreSQL's work per page and the state's decoding (bench B4).
ADDED_COLUMNS = [AddColumn("tickets", "missing", "TEXT NOT NULL DEFAULT '[]'", backfill={
    "postgres": "UPDATE tickets SET missing = COALESCE((state::json -> 'missing')::text, '[]')",
    "sqlite": "UPDATE tickets SET missing = COALESCE(json_extract(state, '$.missing'), '[]')"})]


# Upsert guarded by version: a duplicate or older state changes nothing.
TICKET_COLUMNS = ("number", "ticket_id", "version", "customer_key", "phone", "phone_rev", "name", "type", "status",
                  "branch", "topic", "opened_ms", "last_message_ms", "state", "missing")
ON_CONFLICT_TICKET = """ON CONFLICT (number) DO UPDATE SET version = excluded.version, name = excluded.name,
        phone = excluded.phone, phone_rev = excluded.phone_rev, type = excluded.type, status = excluded.status,
        branch = excluded.branch, topic = excluded.topic, last_message_ms = excluded.last_message_ms,
        state = excluded.state, missing = excluded.missing
    WHERE tickets.version < excluded.version"""
UPSERT_TICKET = (f"INSERT INTO tickets ({', '.join(TICKET_COLUMNS)}, unread)"
                 f" VALUES ({', '.join(f'%({c})s' for c in TICKET_COLUMNS)}, COALESCE((SELECT unread FROM conversations c"
                 " WHERE c.customer_key = %(customer_key)s AND c.number = %(number)s), 0)) " + ON_CONFLICT_TICKET)

# A page of tickets at once on PostgreSQL (a rebuild): COPY into a scratch table, then one upsert from
# it. Row by row, the upserts cost PostgreSQL about 100 us each and were a third of a rebuild's CPU
# (bench B5); this way PostgreSQL does half the work and Python hardly any.
TICKET_PAGE_TABLE = "CREATE TEMP TABLE IF NOT EXISTS ticket_page (LIKE tickets INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
UPSERT_TICKET_PAGE = (f"INSERT INTO tickets ({', '.join(TICKET_COLUMNS)}, unread)"
                      f" SELECT {', '.join('p.' + c for c in TICKET_COLUMNS)}, COALESCE(c.unread, 0) FROM ticket_page p"
                      " LEFT JOIN conversations c ON c.customer_key = p.customer_key AND c.number = p.number "
                      + ON_CONFLICT_TICKET)


def ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


class PanelViews:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate(SCHEMA + (POSTGRES_SCHEMA if db.dialect == "postgres" else SQLITE_SCHEMA), ADDED_COLUMNS)
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    def _notify(self, change: dict[str, Any]) -> None:
        for listener in self.listeners:
            listener(change)

    # -- tickets -------------------------------------------------------------------------------

    def apply_ticket(self, ticket: TicketState) -> bool:
        with self.db.transaction() as tx:
            changed = self._upsert_ticket(tx, ticket)
        if changed:
            self._notify({"kind": "ticket", "number": ticket.number, "status": ticket.status,
                          "branch": ticket.branch})
        return changed

    @staticmethod
    def ticket_row(t: TicketState) -> dict[str, Any]:
        return {"number": t.number, "ticket_id": t.ticket_id, "version": t.version, "customer_key": t.customer.key,
                "phone": t.customer.wa_id,
                "phone_rev": t.customer.wa_id[::-1] if t.customer.wa_id else None, "name": t.details.name or t.customer.name, "type": t.type,
                "status": t.status, "branch": t.branch, "topic": t.topic, "opened_ms": ms(t.opened_at),
                "last_message_ms": ms(t.last_message_at), "state": t.model_dump_json(),
                "missing": json.dumps(t.missing, separators=(",", ":"))}

    def apply_tickets(self, tickets: list[TicketState]) -> None:
        """Many tickets in one transaction (a rebuild's page); no change events."""
        latest: dict[int, TicketState] = {}
        for t in tickets:  # one row per ticket: an upsert from a table must not touch a row twice
            if t.number not in latest or t.version > latest[t.number].version:
                latest[t.number] = t
        if not latest:
            return
        rows = [self.ticket_row(t) for t in latest.values()]
        with self.db.transaction() as tx:
            if self.db.dialect == "postgres":
                tx.execute(TICKET_PAGE_TABLE)
                tx.copy("ticket_page", TICKET_COLUMNS, ([row[c] for c in TICKET_COLUMNS] for row in rows))
                tx.execute(UPSERT_TICKET_PAGE)
            else:
                tx.executemany(UPSERT_TICKET, rows)

    def _upsert_ticket(self, tx: Tx, t: TicketState) -> bool:
        return tx.execute(UPSERT_TICKET, self.ticket_row(t)) == 1

    # -- conversations and messages (from chat) ------------------------------------------------

    def apply_conversation(self, conv: ConversationState) -> bool:
        with self.db.transaction() as tx:
            changed = self._upsert_conversation(tx, conv)
        if changed:
            self._notify_conversation(conv)
        return changed

    def apply_message(self, message: MessageState) -> bool:
        with self.db.transaction() as tx:
            changed = self._upsert_message(tx, message)
        if changed:
            self._notify_message(message)
        return changed

    def apply_message_and_conversation(self, message: MessageState, conv: ConversationState) -> None:
        """A chat event's two states in one transaction: one commit instead of two (bench B2). Rows are
        locked in the order the separate calls take them (message, conversation, tickets)."""
        with self.db.transaction() as tx:
            message_changed = self._upsert_message(tx, message)
            conversation_changed = self._upsert_conversation(tx, conv)
        if message_changed:
            self._notify_message(message)
        if conversation_changed:
            self._notify_conversation(conv)

    def _upsert_conversation(self, tx: Tx, conv: ConversationState) -> bool:
        row = {"customer_key": conv.customer.key, "version": conv.version, "number": conv.number,
               "unread": conv.unread, "last_inbound_ms": ms(conv.last_inbound_at),
               "window_closes_ms": ms(conv.window_closes_at), "state": conv.model_dump_json()}
        changed = tx.execute(
            """INSERT INTO conversations (customer_key, version, number, unread, last_inbound_ms,
                   window_closes_ms, state)
               VALUES (%(customer_key)s, %(version)s, %(number)s, %(unread)s, %(last_inbound_ms)s,
                   %(window_closes_ms)s, %(state)s)
               ON CONFLICT (customer_key) DO UPDATE SET version = excluded.version, number = excluded.number,
                   unread = excluded.unread, last_inbound_ms = excluded.last_inbound_ms,
                   window_closes_ms = excluded.window_closes_ms, state = excluded.state
               WHERE conversations.version < excluded.version""", row) == 1
        if changed:  # the unread mark lives on the customer's current ticket only
            tx.execute("""UPDATE tickets SET unread = CASE WHEN number = %(number)s THEN %(unread)s ELSE 0 END
                          WHERE customer_key = %(customer_key)s
                            AND (unread <> 0 OR number = %(number)s)""", row)
        return changed

    def apply_window_closed(self, customer_key: str, last_inbound_at: datetime, closed_at: datetime,
                            number: int | None) -> bool:
        """The scheduler's word that the customer's 24 h window closed: the conversation says so from
        now on, and an open chat is told at once instead of waiting for its own countdown. A notice
        about an older message (the customer wrote since, the window is open again) changes nothing."""
        params = {"k": customer_key, "last": ms(last_inbound_at), "closed": ms(closed_at)}
        with self.db.transaction() as tx:
            row = tx.one("SELECT number, last_inbound_ms FROM conversations WHERE customer_key = %(k)s", params)
            if row is not None and row["last_inbound_ms"] is not None and row["last_inbound_ms"] > params["last"]:
                return False
            # No version to compare: only ever bring the closing time forward, so a replay is harmless.
            tx.execute("""UPDATE conversations SET window_closes_ms = %(closed)s WHERE customer_key = %(k)s
                            AND (window_closes_ms IS NULL OR window_closes_ms > %(closed)s)""", params)
        current = row["number"] if row is not None and row["number"] is not None else number
        self._notify({"kind": "window", "customer_key": customer_key, "number": current})
        return True

    def _notify_conversation(self, conv: ConversationState) -> None:
        self._notify({"kind": "conversation", "customer_key": conv.customer.key, "number": conv.number,
                      "unread": conv.unread})

    def _upsert_message(self, tx: Tx, message: MessageState) -> bool:
        row = {"message_id": message.message_id, "customer_key": message.customer_key, "number": message.number,
               "version": message.version, "at_ms": ms(message.at), "state": message.model_dump_json()}
        changed = tx.execute(
            """INSERT INTO messages (message_id, customer_key, number, version, at_ms, state)
               VALUES (%(message_id)s, %(customer_key)s, %(number)s, %(version)s, %(at_ms)s, %(state)s)
               ON CONFLICT (message_id) DO UPDATE SET version = excluded.version, number = excluded.number,
                   state = excluded.state
               WHERE messages.version < excluded.version""", row) == 1
        media = message.inbound.media if message.inbound else None
        if changed and media is not None:
            tx.execute("""INSERT INTO media (media_id, message_id, number) VALUES (%(m)s, %(id)s, %(n)s)
                          ON CONFLICT (media_id) DO UPDATE SET number = excluded.number""",
                       {"m": media.id, "id": message.message_id, "n": message.number})
        return changed

    def _notify_message(self, message: MessageState) -> None:
        self._notify({"kind": "message", "number": message.number, "message_id": message.message_id,
                      "customer_key": message.customer_key, "status": message.status})

    # -- reads ---------------------------------------------------------------------------------

    def ticket(self, number: int) -> dict[str, Any] | None:
        return self.db.one("SELECT t.*, c.window_closes_ms, c.last_inbound_ms FROM tickets t LEFT JOIN"
                           " conversations c ON c.customer_key = t.customer_key WHERE t.number = %(n)s",
                           {"n": number})

    def messages(self, number: int) -> list[dict[str, Any]]:
        rows = self.db.all("SELECT state FROM messages WHERE number = %(n)s ORDER BY at_ms, message_id",
                           {"n": number})
        return [json.loads(r["state"]) for r in rows]

    def message(self, message_id: str) -> dict[str, Any] | None:
        row = self.db.one("SELECT state FROM messages WHERE message_id = %(id)s", {"id": message_id})
        return json.loads(row["state"]) if row else None

    def media_ticket(self, media_id: str) -> int | None:
        """The ticket number an inbound media object was sent under (None: unknown media)."""
        row = self.db.one("SELECT number FROM media WHERE media_id = %(m)s", {"m": media_id})
        return None if row is None or row["number"] is None else int(row["number"])

    def unread_count(self, branches: list[str] | None) -> int:
        sql, params = "SELECT COUNT(*) AS n FROM tickets WHERE unread > 0", {}
        if branches is not None:
            sql += " AND branch IN (" + ",".join(f"%(b{i})s" for i in range(len(branches))) + ")" if branches \
                else " AND 1 = 0"
            params = {f"b{i}": b for i, b in enumerate(branches)}
        row = self.db.one(sql, params)
        return int(row["n"]) if row else 0
