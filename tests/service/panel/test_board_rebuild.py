"""The board rebuilt from the tickets' event log (panel_api.rebuild) equals the tickets' own state:
across many small windows, past events written while it runs, twice in a row, from a position."""

from __future__ import annotations

import pytest
from rebuild_log import OPERATOR, T0, board, expected, write_tickets

from mostrador.panel_api.rebuild import rebuild_board
from mostrador.panel_api.views import PanelViews
from mostrador.platform.db import SqliteDatabase
from mostrador.platform.esapp import eventsourcing_env
from mostrador.tickets.application import TicketsApp


@pytest.fixture
def app(tmp_path):
    app = TicketsApp(env=eventsourcing_env(database_url=None, sqlite_path=str(tmp_path / "t.db"), schema="x"))
    yield app
    app.close()


@pytest.fixture
def db(tmp_path):
    db = SqliteDatabase(str(tmp_path / "panel.db"))
    yield db
    db.close()


def test_rebuilt_board_equals_every_tickets_state_across_many_windows(app, db):
    numbers = write_tickets(app, 0, 30)
    result = rebuild_board(app, PanelViews(db), page_size=4)  # ~120 events: dozens of windows
    assert board(db) == expected(app, numbers)
    assert {s["status"] for s in board(db).values()} == {"INCOMPLETO", "COMPLETO", "FACTURADO"}
    assert result["events"] == sum(app.get_ticket(n).version for n in numbers)  # every ticket event, once


def test_events_written_while_it_runs_are_rebuilt_too(app, db):
    numbers = write_tickets(app, 0, 10)
    views = PanelViews(db)
    apply, late = views.apply_tickets, []

    def apply_and_write_more(rows):  # new tickets arrive while the first page is being written
        if not late:
            late.extend(write_tickets(app, 100, 5))
        apply(rows)

    views.apply_tickets = apply_and_write_more
    rebuild_board(app, views, page_size=5)
    assert board(db) == expected(app, numbers + late)


def test_running_it_twice_or_from_a_position_changes_nothing_it_should_not(app, db):
    numbers = write_tickets(app, 0, 12)
    rebuild_board(app, PanelViews(db), page_size=7)
    first = board(db)
    middle = app.recorder.max_notification_id()
    more = write_tickets(app, 50, 4)
    app.change_status(key="op-late", number=numbers[1], to="EN PROCESO", by=OPERATOR, at=T0)
    again = rebuild_board(app, PanelViews(db), page_size=7, after=middle)  # only what came after
    assert again["events"] == sum(app.get_ticket(n).version for n in more) + 1
    assert board(db) == expected(app, numbers + more)
    assert board(db)[numbers[1]]["status"] == "EN PROCESO" != first[numbers[1]]["status"]
    rebuild_board(app, PanelViews(db), page_size=7)  # the whole log once more: same board
    assert board(db) == expected(app, numbers + more)


def test_an_empty_log_rebuilds_nothing(app, db):
    assert rebuild_board(app, PanelViews(db))["events"] == 0
    assert board(db) == {}
