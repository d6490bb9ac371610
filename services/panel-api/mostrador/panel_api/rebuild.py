"""Rebuild the board's tickets from the tickets service's event log — an operator's tool (a new
column, a lost panel database) instead of waiting for live events to refill it.

It reads the log in windows of notification ids, only Ticket events (a topic filter in SQL:
customers' and numbering events are not needed), folds each ticket's events the way the tickets
relay does, turns every ticket a page touched into the TicketState the live events carry (tickets'
own translation), and upserts the page in one transaction (PanelViews.apply_tickets: COPY and one
upsert on PostgreSQL). Reading the next page and writing the previous one overlap with the folding
(threads: the database works meanwhile). Upserts are guarded by version, so running it twice, or
while live events arrive, is harmless.

Why windows (``notification_id`` in (a, a + n]) and not "the next n rows after a": with a filter,
PostgreSQL may judge few rows to match and answer "next n" with a bitmap scan of *every* later row
and a sort of them — each page then costs the rest of the log (bench B5 on a freshly written log:
72 ms a page instead of 4, and PostgreSQL busier than the rebuild). A window bounds every page.

Decoding and folding are CPU work in Python, so ``rebuild_parallel`` (PostgreSQL) splits it over
processes: each reads only its share of the tickets (by ticket id, filtered in SQL), so every ticket
is folded by exactly one of them, in order.
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from mostrador.events.relay import AggregateStates
from mostrador.panel_api.views import PanelViews


def ticket_topics() -> list[str]:
    from eventsourcing.domain import Aggregate
    from eventsourcing.utils import get_topic

    from mostrador.tickets.domainmodel import Ticket
    return [get_topic(cls) for cls in vars(Ticket).values()
            if isinstance(cls, type) and issubclass(cls, Aggregate.Event)]


def rebuild_board(tickets_app: Any, views: PanelViews, *, page_size: int = 5000, cache_size: int = 50_000,
                  after: int = 0, part: int = 0, parts: int = 1) -> dict[str, Any]:
    """Replay ``tickets_app``'s notification log (after position ``after``) into ``views``; with
    ``parts`` > 1, only the tickets whose id falls in share ``part``."""
    from mostrador.tickets.outbound import ticket_state

    topics = ticket_topics()
    states = AggregateStates(tickets_app.repository, size=cache_size)
    mapper = tickets_app.mapper
    events = upserts = 0
    start = time.perf_counter()

    recorder = tickets_app.recorder
    window = page_size * parts  # ids per read: about page_size events of this share

    def read(position: int) -> tuple[int, list[Any]]:
        """The notifications with ids in (position, position + window], and where the next window starts."""
        stop = position + window
        if parts > 1:
            return stop, _read_share(recorder, position, stop, topics, part, parts)
        return stop, recorder.select_notifications(position, window, stop=stop, topics=topics,
                                                   inclusive_of_start=False)

    end = recorder.max_notification_id() or 0
    with ThreadPoolExecutor(2, thread_name_prefix="rebuild") as pool:
        next_page = pool.submit(read, after) if after < end else None
        writing = None
        while next_page is not None:
            stop, notifications = next_page.result()
            if stop >= end:  # at the end as it was when we started: go on with what came meanwhile
                end = recorder.max_notification_id() or 0
            next_page = pool.submit(read, stop) if stop < end else None
            touched: dict[Any, Any] = {}
            for notification in notifications:
                ticket = states.after(mapper.to_domain_event(notification))
                touched[ticket.id] = ticket
                events += 1
            rows = [ticket_state(t) for t in touched.values()]  # immutable copies: the fold goes on
            upserts += len(rows)
            if writing is not None:
                writing.result()
            writing = pool.submit(views.apply_tickets, rows)
        if writing is not None:
            writing.result()
    return {"events": events, "upserts": upserts, "seconds": time.perf_counter() - start}


def _read_share(recorder: Any, position: int, stop: int, topics: list[str], part: int, parts: int) -> list[Any]:
    """The notifications with ids in (position, stop] of share ``part`` (by the last byte of the ticket
    id), filtered in PostgreSQL so that no process reads, let alone decodes, the other shares' events."""
    from eventsourcing.persistence import Notification
    from psycopg.sql import SQL, Identifier

    statement = SQL("SELECT notification_id, originator_id, originator_version, topic, state FROM {}.{}"
                    " WHERE notification_id > %s AND notification_id <= %s AND topic = ANY(%s)"
                    " AND get_byte(uuid_send(originator_id), 15) %% %s = %s ORDER BY notification_id").format(
        Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name))
    with recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
        cursor.execute(statement, (position, stop, topics, parts, part), prepare=True)
        return [Notification(id=r["notification_id"], originator_id=r["originator_id"],
                             originator_version=r["originator_version"], topic=r["topic"], state=bytes(r["state"]))
                for r in cursor.fetchall()]


def _rebuild_part(tickets_env: dict[str, str], database_url: str, schema: str, part: int, parts: int,
                  page_size: int) -> dict[str, Any]:
    from mostrador.platform.db import PostgresDatabase
    from mostrador.tickets.application import TicketsApp

    app = TicketsApp(env=tickets_env)
    db = PostgresDatabase(database_url, schema, pool_size=2)
    try:
        return rebuild_board(app, PanelViews(db), page_size=page_size, part=part, parts=parts)
    finally:
        db.close()
        app.close()


def rebuild_parallel(tickets_env: dict[str, str], database_url: str, schema: str, *, parts: int = 2,
                     page_size: int = 5000) -> dict[str, Any]:
    """``rebuild_board`` in ``parts`` processes (PostgreSQL): the tickets' store from ``tickets_env``
    (see mostrador.platform.esapp.eventsourcing_env), the board in ``schema`` of ``database_url``."""
    import multiprocessing

    start = time.perf_counter()
    PanelViews(_database(database_url, schema)).db.close()  # migrate once, before the workers race
    with ProcessPoolExecutor(parts, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(_rebuild_part, [tickets_env] * parts, [database_url] * parts, [schema] * parts,
                                range(parts), [parts] * parts, [page_size] * parts))
    return {"events": sum(r["events"] for r in results), "upserts": sum(r["upserts"] for r in results),
            "seconds": time.perf_counter() - start, "parts": parts}


def _database(database_url: str, schema: str):
    from mostrador.platform.db import PostgresDatabase
    return PostgresDatabase(database_url, schema, pool_size=1)
