"""A board written before ``tickets.missing`` existed, opened by today's PanelViews: the column is
added once and filled from each row's state, and the list shows the same missing fields as before.
Shared by the SQLite (service) and PostgreSQL (integration) tests."""

from __future__ import annotations

from mostrador.panel_api import present
from mostrador.panel_api.board import BoardQuery, list_tickets
from mostrador.panel_api.views import SCHEMA, TICKET_COLUMNS, PanelViews
from mostrador.platform.db import Database
from tests.service.panel.panel_rig import ticket_state

OLD_TICKETS = SCHEMA[0].replace(", missing TEXT NOT NULL DEFAULT '[]'", "")


def check_old_board_upgrades(db: Database) -> None:
    assert OLD_TICKETS != SCHEMA[0]
    old = [ticket_state(1, missing=["address", "order"], status="INCOMPLETO"), ticket_state(2)]
    db.migrate([OLD_TICKETS])
    columns = [c for c in TICKET_COLUMNS if c != "missing"]
    with db.transaction() as tx:
        for t in old:
            row = PanelViews.ticket_row(t)
            tx.execute(f"INSERT INTO tickets ({', '.join(columns)}) VALUES ({', '.join(f'%({c})s' for c in columns)})",
                       row)

    views = PanelViews(db)
    PanelViews(db)  # a second start (another worker, a restart) finds the column and leaves it alone
    assert missing_by_number(db) == {1: ["address", "order"], 2: []}
    views.apply_ticket(ticket_state(3, missing=["name"]))
    views.apply_ticket(ticket_state(1, missing=["order"], status="INCOMPLETO", version=2))  # an update rewrites it

    assert missing_by_number(db) == {1: ["order"], 2: [], 3: ["name"]}
    assert "state" not in list_tickets(db, BoardQuery())["rows"][0]  # the list no longer reads whole states
    assert present.summary(views.ticket(2)).missing == []


def missing_by_number(db: Database) -> dict[int, list[str]]:
    return {r["number"]: present.summary(r).missing for r in list_tickets(db, BoardQuery())["rows"]}
