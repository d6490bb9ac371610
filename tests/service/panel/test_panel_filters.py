"""GET /api/tickets by the customer's name and by when the ticket was opened: what matches, the 422s,
and both combined with the other filters and with keyset paging."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mostrador.events.schemas.tickets import TicketDetails
from tests.service.panel.panel_rig import T0, ticket_state

pytestmark = pytest.mark.service

PEOPLE = {  # number: (name, opened at, status, branch)
    1: ("Lucía Fernández", T0 - timedelta(days=2), "FACTURADO", "centro"),
    2: ("ÁLVARO lópez", T0 - timedelta(days=1, hours=1), "COMPLETO", "palermo"),
    3: ("Lucas Martín Ferreyra", T0 - timedelta(days=1), "COMPLETO", "centro"),
    4: ("Ana Lucía Gómez", T0 - timedelta(hours=3), "EN PROCESO", "centro"),
    5: ("lucio", T0 - timedelta(minutes=1), "COMPLETO", "centro"),
    6: ("Álvarez Juan", T0, "INCOMPLETO", "palermo"),
    7: ("Martina", T0 + timedelta(minutes=5), "INCOMPLETO", "centro"),
}


def numbers(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [t["number"] for t in response.json()["items"]]


@pytest.fixture
async def board(panel):
    for number, (name, opened, status, branch) in PEOPLE.items():
        await panel.ticket(ticket_state(number, status=status, branch=branch, opened=opened,
                                        details=TicketDetails(name=name)))
    return await panel.admin()


async def test_the_name_filter_matches_the_start_of_the_name_in_any_case(board):
    async def named(text):
        return numbers(await board.get("/api/tickets", params={"name": text}))

    assert await named("luc") == [5, 3, 1]
    assert await named("LUCÍA") == [1]  # case folds beyond ASCII, on SQLite too
    assert await named("álv") == [6, 2]
    assert await named("lucía fer") == [1]
    assert await named("luc fer") == [3, 1]  # each next word starts a later word: Martín Ferreyra too
    assert await named("  Lucas   Ferr ") == [3]
    assert await named("fernández") == []  # a later word alone does not start the name
    assert await named("uc") == []
    assert await named("%cía") == [] and await named("_ucas") == []  # typed % and _ are not wildcards


@pytest.mark.parametrize("params", [{"name": ""}, {"name": "   "}, {"name": "%%"}, {"name": "x" * 101},
                                    {"from": "ayer"}, {"from": "2026-13-01"}, {"to": "15/09/2026"},
                                    {"to": "2026-09-15T25:00"},
                                    {"from": "2026-09-15", "to": "2026-09-14"},
                                    {"from": "2026-09-15T12:00:00Z", "to": "2026-09-15T11:59:59Z"}])
async def test_bad_name_and_dates_are_422(board, params):
    response = await board.get("/api/tickets", params=params)
    assert response.status_code == 422, params
    assert response.json()["error"] == "invalid" and response.json()["message"]


async def test_from_and_to_bound_the_opened_time(board):
    async def opened(**params):
        return numbers(await board.get("/api/tickets", params=params))

    # T0 is 2026-09-15T12:00Z. A date is its whole day, in UTC unless the value has an offset.
    assert await opened(**{"from": "2026-09-15"}) == [7, 6, 5, 4]
    assert await opened(to="2026-09-13") == [1]
    assert await opened(**{"from": "2026-09-14", "to": "2026-09-14"}) == [3, 2]
    assert await opened(**{"from": "2026-09-15T12:00:00Z"}) == [7, 6]  # from includes the instant
    assert await opened(to="2026-09-15T12:00:00+00:00") == [6, 5, 4, 3, 2, 1]  # and so does to
    assert await opened(to="2026-09-15T11:59:59.999Z") == [5, 4, 3, 2, 1]
    assert await opened(**{"from": "2026-09-15T09:00:00-03:00"}) == [7, 6]  # 12:00 UTC
    assert await opened(**{"from": "2026-09-15T08:59"}) == [7, 6, 5, 4]  # no offset: UTC


async def test_name_and_dates_combine_with_the_other_filters_and_with_paging(board):
    params = {"name": "luc", "from": "2026-09-13", "to": "2026-09-15", "status": ["COMPLETO", "FACTURADO"]}
    assert numbers(await board.get("/api/tickets", params=params)) == [5, 3, 1]
    assert numbers(await board.get("/api/tickets", params={**params, "branch": "centro",
                                                            "from": "2026-09-14"})) == [5, 3]
    for sort in ("newest", "last_message"):
        seen, cursor = [], None
        while True:
            page = (await board.get("/api/tickets", params={**params, "limit": 2, "sort": sort,
                                                             **({"cursor": cursor} if cursor else {})})).json()
            assert page["total"] == 3
            seen += [t["number"] for t in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [5, 3, 1]


async def test_a_branch_limited_operator_filters_by_name_inside_their_branches_only(panel, board):
    ana = await panel.operator("ana", branches=["palermo"])
    assert numbers(await ana.get("/api/tickets", params={"name": "álv"})) == [6, 2]
    assert numbers(await ana.get("/api/tickets", params={"name": "luc"})) == []
