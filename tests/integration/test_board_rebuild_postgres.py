"""rebuild_parallel on PostgreSQL: two processes, each folding its share of the tickets, rebuild the
board the tickets' store describes — also across a gap in the notification ids wider than a window
(ids are a sequence: a rolled-back transaction leaves one)."""

from __future__ import annotations

import psycopg
import pytest

from mostrador.panel_api.rebuild import rebuild_parallel
from mostrador.platform.db import PostgresDatabase
from mostrador.platform.esapp import eventsourcing_env
from mostrador.tickets.application import TicketsApp
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
