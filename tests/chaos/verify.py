"""After a chaos run: read what every service stored (their own PostgreSQL schemas, as a forensic reader)
and what the fake Graph API saw, and check the promises — nothing lost, nothing doubled.

Every check returns plain data (counts, offending ids) so the test can both assert and report it.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mostrador.events.envelope import stable_id
from mostrador.events.registry import parse_envelope
from mostrador.platform.db import Database, Tx
from mostrador.platform.esapp import eventsourcing_env


def open_apps(database_url: str, prefix: str) -> dict[str, Any]:
    """The producers' applications on the run's schemas (read only: nothing is saved through them)."""
    from mostrador.bot.application import BotApp
    from mostrador.chat.application import ChatApp
    from mostrador.tickets.application import TicketsApp

    def env(service: str) -> dict[str, str]:
        return eventsourcing_env(database_url=database_url, sqlite_path=None, schema=f"{prefix}{service}", pool_size=2)

    return {"tickets": TicketsApp(env=env("tickets")), "bot": BotApp(env=env("bot")), "chat": ChatApp(env=env("chat"))}


def stored(app: Any, page: int = 5000) -> Iterator[tuple[Any, Any]]:
    """(notification, domain event) for every event the application ever stored, in log order."""
    position = 0
    while True:
        notifications = app.recorder.select_notifications(position, page, inclusive_of_start=False)
        if not notifications:
            return
        for notification in notifications:
            yield notification, app.mapper.to_domain_event(notification)
        position = notifications[-1].id


def name_of(event: Any) -> str:
    return type(event).__qualname__


# -- 1. every accepted webhook in its conversation's history, exactly once ----------------------------
def inbound_counts(apps: dict[str, Any], panel_db: Any) -> dict[str, Counter]:
    """How many times each wamid was filed: on a ticket, in chat's conversation, on the panel."""
    tickets, chat, panel = Counter(), Counter(), Counter()
    for _, event in stored(apps["tickets"]):
        if name_of(event) == "Ticket.MessageAttached":
            tickets[event.message["message_id"]] += 1
    for _, event in stored(apps["chat"]):
        if name_of(event) == "Conversation.InboundRecorded":
            chat[event.message["message_id"]] += 1
    for row in panel_db.all("SELECT state FROM messages"):
        state = json.loads(row["state"])
        if state["direction"] == "in":
            panel[state["inbound"]["message_id"]] += 1
    return {"tickets": tickets, "chat": chat, "panel": panel}


def exactly_once(wamids: list[str], counts: dict[str, Counter]) -> dict[str, dict[str, int]]:
    """Per store, the accepted wamids found a number of times other than one (empty dicts: all good)."""
    return {store: {w: counter.get(w, 0) for w in wamids if counter.get(w, 0) != 1}
            for store, counter in counts.items()}


# -- 2. no reply sent twice, none lost ------------------------------------------------------------------
def reply_keys(apps: dict[str, Any]) -> dict[str, str]:
    """Every reply the bot decided -> the send key chat uses for it (our message id), with the customer."""
    keys = {}
    for notification, event in stored(apps["bot"]):
        if name_of(event) == "Conversation.ReplyRequested":
            event_id = stable_id("bot", notification.id)  # the relay's envelope id for this notification
            keys[str(stable_id("chat", "out", event_id))] = event.customer["key"]
    return keys


def bot_turns(apps: dict[str, Any]) -> Counter:
    """How many turns the bot took per customer message (each must be exactly one)."""
    turns = Counter()
    for _, event in stored(apps["bot"]):
        if name_of(event) == "Conversation.MessageHandled":
            turns[event.message_id] += 1
    return turns


def sends(fake_requests: dict[str, Any], expected: dict[str, str]) -> dict[str, Any]:
    per_key: dict[str, int] = fake_requests["sends_per_key"]
    duplicated = {k: n for k, n in per_key.items() if n > 1}
    missing = sorted(set(expected) - set(per_key))
    unexpected = sorted(set(per_key) - set(expected))
    return {"expected": len(expected), "sent_keys": len(per_key), "duplicated": duplicated, "missing": missing,
            "unexpected": unexpected}


# -- 3. ticket numbers gapless and unique; status = fold of the events ----------------------------------
def ticket_numbers(apps: dict[str, Any]) -> dict[str, Any]:
    opened = [event.number for _, event in stored(apps["tickets"]) if name_of(event) == "Ticket.Opened"]
    issued = [event.number for _, event in stored(apps["tickets"]) if name_of(event) == "TicketNumbers.Issued"]
    counts = Counter(opened)
    top = max(opened, default=0)
    return {"tickets": len(opened), "max": top, "duplicated": sorted(n for n, c in counts.items() if c > 1),
            "skipped": sorted(set(range(1, top + 1)) - set(opened)), "issued_equals_opened": sorted(issued) == sorted(opened)}


def folded_tickets(apps: dict[str, Any]) -> dict[int, Any]:
    """Each ticket rebuilt by folding its stored events from scratch (no snapshot, no cache)."""
    by_id: dict[Any, list[Any]] = defaultdict(list)
    for notification, event in stored(apps["tickets"]):
        if notification.topic.split(":")[-1].startswith("Ticket."):
            by_id[notification.originator_id].append(event)
    tickets = {}
    for events in by_id.values():
        aggregate = None
        for event in sorted(events, key=lambda e: e.originator_version):
            aggregate = event.mutate(aggregate)
        tickets[aggregate.number] = aggregate
    return tickets


def status_mismatches(apps: dict[str, Any], panel_db: Any) -> dict[str, Any]:
    """Tickets whose board row, or the application's own load, disagrees with the fold of the events."""
    folded = folded_tickets(apps)
    board = {int(r["number"]): r for r in panel_db.all("SELECT number, status, version FROM tickets")}
    wrong = {}
    for number, ticket in folded.items():
        row = board.get(number)
        loaded = apps["tickets"].get_ticket(number)
        seen = {"fold": (ticket.status, ticket.version), "loaded": (loaded.status, loaded.version),
                "board": (row["status"], row["version"]) if row else None}
        if len(set(seen.values())) != 1:
            wrong[number] = seen
    return {"tickets": len(folded), "mismatched": wrong, "board_rows": len(board),
            "statuses": dict(Counter(t.status for t in folded.values()))}


# -- 4. the board equals a fresh rebuild from the producers' event logs ----------------------------------
TABLES = {"tickets": "number", "conversations": "customer_key", "messages": "message_id", "media": "media_id"}


class OneTransaction(Database):
    """The rebuild's database: the panel's projection code runs unchanged, but every apply shares one
    transaction on one connection (a commit per event would make the rebuild the slowest part)."""

    dialect = "postgres"

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self.conn.cursor() as cursor:
            yield Tx(cursor, lambda sql: sql)


def rebuild_board(apps: dict[str, Any], database_url: str, schema: str) -> int:
    """Replay tickets' and chat's stored events, translated exactly as their relays publish them and
    parsed back as consumers receive them, through the panel's projection code into an empty schema.
    Returns how many events were applied."""
    import psycopg

    from mostrador.chat.outbound import make_translate
    from mostrador.events.relay import OutboxRelay
    from mostrador.panel_api.handlers import ProjectionHandlers
    from mostrador.panel_api.views import PanelViews
    from mostrador.tickets.outbound import to_integration

    applied = 0
    with psycopg.connect(database_url) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        conn.execute(f'SET search_path TO "{schema}"')
        handlers = ProjectionHandlers(PanelViews(OneTransaction(conn)))
        for producer, translate in (("tickets", to_integration), ("chat", make_translate(24.0))):
            relay = OutboxRelay(apps[producer], translate, bus=None, producer=producer, with_state=True,
                                batch_size=2000)
            position = 0
            while True:
                envelopes, position_after = relay.read_batch(position)
                if position_after == position:
                    break
                for envelope in envelopes:
                    handlers.apply(parse_envelope(envelope.to_bytes()))  # exactly as it crosses the wire
                    applied += 1
                position = position_after
        conn.commit()
    return applied


def compare_tables(live: Any, rebuilt: Any) -> dict[str, Any]:
    out = {}
    for table, key in TABLES.items():
        a = {r[key]: r for r in live.all(f"SELECT * FROM {table}")}
        b = {r[key]: r for r in rebuilt.all(f"SELECT * FROM {table}")}
        differing = [k for k in a.keys() & b.keys() if a[k] != b[k]]
        out[table] = {"rows": len(a), "only_live": sorted(map(str, a.keys() - b.keys()))[:20],
                      "only_rebuilt": sorted(map(str, b.keys() - a.keys()))[:20], "differing": len(differing),
                      "example": {"live": a[differing[0]], "rebuilt": b[differing[0]]} if differing else None}
    return out


def close_apps(apps: dict[str, Any]) -> None:
    for app in apps.values():
        app.close()
