"""The board's capped count on a real database: the first page counts in its own statement, a later
page repeats the count its cursor carries, an older cursor (keys only) counts again, and an empty
result counts 0. Shared by the SQLite (service) and PostgreSQL (integration) tests."""

from __future__ import annotations

import asyncio

from mostrador.panel_api import board
from mostrador.panel_api.board import BoardQuery, encode_cursor, list_tickets, list_tickets_async
from mostrador.panel_api.views import PanelViews
from mostrador.platform.db import Database
from tests.service.panel.panel_rig import ticket_state


def check_board_counts(db: Database, monkeypatch) -> None:
    monkeypatch.setattr(board, "COUNT_CAP", 5)
    views = PanelViews(db)
    for n in range(1, 9):
        views.apply_ticket(ticket_state(n, status="INCOMPLETO" if n in (2, 7) else "COMPLETO"))

    def both(**fields):
        query = BoardQuery(**fields)
        sync = list_tickets(db, query)
        assert asyncio.run(list_tickets_async(db, query)) == sync
        return sync

    first = both(limit=3)
    assert len(board.plan(BoardQuery(limit=3), db.dialect).statements) == 1  # the count rides along
    assert [r["number"] for r in first["rows"]] == [8, 7, 6]
    assert (first["total"], first["total_capped"]) == (5, True)  # 8 tickets, counted up to the cap
    later = both(limit=3, cursor=first["next_cursor"])
    assert [r["number"] for r in later["rows"]] == [5, 4, 3]
    assert (later["total"], later["total_capped"]) == (5, True)
    assert len(board.plan(BoardQuery(limit=3, cursor=first["next_cursor"]), db.dialect).statements) == 1

    old_cursor = both(limit=3, cursor=encode_cursor([6]))  # before the total travelled in it
    assert [r["number"] for r in old_cursor["rows"]] == [5, 4, 3]
    assert (old_cursor["total"], old_cursor["total_capped"]) == (5, True)
    past_the_end = both(limit=3, cursor=encode_cursor([1]))
    assert (past_the_end["rows"], past_the_end["total"], past_the_end["total_capped"]) == ([], 5, True)

    incomplete = both(statuses=["INCOMPLETO"], limit=1)
    assert [r["number"] for r in incomplete["rows"]] == [7]
    assert (incomplete["total"], incomplete["total_capped"]) == (2, False)
    nothing = both(statuses=["FACTURADO"])
    assert nothing == {"rows": [], "next_cursor": None, "total": 0, "total_capped": False}
