"""The board rebuild on PostgreSQL: two processes, each folding its share of the tickets, rebuild the
board the tickets' store describes — also across a gap in the notification ids wider than a window
(ids are a sequence: a rolled-back transaction leaves one); and the page upsert they write with."""

from __future__ import annotations

import psycopg
import pytest

from mostrador.panel_api.rebuild import rebuild_parallel
from mostrador.platform.db import PostgresDatabase
from mostrador.platform.esapp import eventsourcing_env
from mostrador.tickets.application import TicketsApp
from mostrador.tickets.domainmodel import ticket_id_for
from mostrador.tickets.outbound import ticket_state
from tests.service.panel.rebuild_log import board, expected, write_tickets

pytestmark = pytest.mark.timeout(180)


def test_two_processes_rebuild_the_whole_board_across_a_gap(database_url, pg_schema):
    env = eventsourcing_env(database_url=database_url, sqlite_path=None, schema=f"{pg_schema}_tickets")
    app = TicketsApp(env=env)
    try:
        numbers = write_tickets(app, 0, 20)
        with psycopg.connect(database_url, autocommit=True) as conn:  # burn 500 ids: windows of 2 x 10 find nothing
            conn.execute(f'SELECT nextval(\'"{pg_schema}_tickets".tickets_events_notification_id_seq\') '
                         "FROM generate_series(1, 500)")
        numbers += write_tickets(app, 100, 20)
        result = rebuild_parallel(env, database_url, f"{pg_schema}_panel", parts=2, page_size=10)
        db = PostgresDatabase(database_url, f"{pg_schema}_panel", pool_size=1)
        try:
            rebuilt = board(db)
        finally:
            db.close()
        assert rebuilt == expected(app, numbers)
        assert result["events"] == sum(app.get_ticket(n).version for n in numbers)
    finally:
        app.close()
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{pg_schema}_tickets" CASCADE')
            conn.execute(f'DROP SCHEMA IF EXISTS "{pg_schema}_panel" CASCADE')


def test_a_page_of_states_keeps_the_newest_of_each_ticket_and_never_goes_back(database_url, pg_schema):
    """PanelViews.apply_tickets on PostgreSQL (COPY + one upsert): the same ticket twice in a page, an
    older state after a newer one, and a ticket whose conversation already has unread messages."""
    from mostrador.panel_api.views import PanelViews

    env = eventsourcing_env(database_url=database_url, sqlite_path=None, schema=f"{pg_schema}_tickets")
    app = TicketsApp(env=env)
    db = PostgresDatabase(database_url, f"{pg_schema}_panel", pool_size=1)
    try:
        numbers = write_tickets(app, 0, 6)
        views = PanelViews(db)
        newest = {n: ticket_state(app.get_ticket(n)) for n in numbers}
        first = {n: ticket_state(app.repository.get(ticket_id_for(n), version=1)) for n in numbers}
        with db.transaction() as tx:  # the conversation of ticket numbers[0] has 3 unread messages
            tx.execute("INSERT INTO conversations (customer_key, version, number, unread, state)"
                       " VALUES (%(k)s, 1, %(n)s, 3, '{}')", {"k": newest[numbers[0]].customer.key, "n": numbers[0]})
        views.apply_tickets([*newest.values(), first[numbers[0]]])  # an older state later in the page
        views.apply_tickets(list(first.values()))  # older states: nothing goes back
        assert board(db) == expected(app, numbers)
        unread = {int(r["number"]): int(r["unread"]) for r in db.all("SELECT number, unread FROM tickets")}
        assert unread == {n: 3 if n == numbers[0] else 0 for n in numbers}
    finally:
        db.close()
        app.close()
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{pg_schema}_tickets" CASCADE')
            conn.execute(f'DROP SCHEMA IF EXISTS "{pg_schema}_panel" CASCADE')
