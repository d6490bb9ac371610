"""The Pedidos board: filters that combine, validation, search, keyset paging, unread, sort, details."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta

import pytest

from mostrador.events.schemas.common import Actor, Location
from mostrador.events.schemas.tickets import StatusChange, TicketDetails
from tests.service.panel.panel_rig import T0, conversation, inbound, ticket_state

pytestmark = pytest.mark.service


def numbers(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [t["number"] for t in response.json()["items"]]


@pytest.fixture
async def board(panel):
    specs = [  # number, status, type, branch, topic
        (1, "INCOMPLETO", "PEDIDO", "centro", None), (2, "COMPLETO", "PEDIDO", "palermo", None),
        (3, "EN PROCESO", "AYUDA", "centro", "reclamo"), (4, "FACTURADO", "PEDIDO", "centro", None),
        (5, "EN PROCESO", "AYUDA", "palermo", "estado"), (6, "COMPLETO", "PEDIDO", "centro", None),
        (7, "NO CONTESTA", "AYUDA", "centro", "reclamo"),
    ]
    for number, status, type_, branch, topic in specs:
        await panel.ticket(ticket_state(number, status=status, type=type_, branch=branch, topic=topic,
                                        phone=f"54911555{number:05d}"))
    return await panel.admin()


async def test_filters_combine(board):
    assert numbers(await board.get("/api/tickets")) == [7, 6, 5, 4, 3, 2, 1]
    assert numbers(await board.get("/api/tickets", params={"status": "COMPLETO"})) == [6, 2]
    assert numbers(await board.get("/api/tickets", params={"status": ["COMPLETO", "EN PROCESO"]})) == [6, 5, 3, 2]
    assert numbers(await board.get("/api/tickets", params={"status": ["COMPLETO", "EN PROCESO"],
                                                          "branch": "centro"})) == [6, 3]
    assert numbers(await board.get("/api/tickets", params={"type": "AYUDA", "branch": "centro"})) == [7, 3]
    assert numbers(await board.get("/api/tickets", params={"type": "AYUDA", "topic": "reclamo",
                                                          "status": "EN PROCESO"})) == [3]
    assert numbers(await board.get("/api/tickets", params={"status": "NO CONTESTA"})) == [7]
    assert numbers(await board.get("/api/tickets", params={"status": "VENCIDO"})) == []


@pytest.mark.parametrize("params", [{"status": "ABIERTO"}, {"status": "en proceso"}, {"type": "CONSULTA"},
                                    {"sort": "oldest"}, {"limit": 0}, {"limit": 1000}, {"unread": "maybe"},
                                    {"cursor": "not-a-cursor"}, {"cursor": "WzEsMl0"},
                                    {"branch": "narnia"}, {"branch": ["centro", "Centro"]}, {"topic": "nada"},
                                    {"topic": ["reclamo", "estado", "CENTRO"]}])
async def test_unknown_values_are_422_not_an_empty_list(board, params):
    response = await board.get("/api/tickets", params=params)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid" and body["message"]


async def test_unknown_branch_or_topic_is_named_and_known_ones_from_the_catalog_filter(board):
    response = await board.get("/api/tickets", params={"branch": "narnia"})
    assert response.json()["message"].startswith("branch: unknown branch 'narnia'")
    response = await board.get("/api/tickets", params={"topic": "nada"})
    assert response.json()["message"].startswith("topic: unknown topic 'nada'")
    assert numbers(await board.get("/api/tickets", params={"topic": ["reclamo", "estado"]})) == [7, 5, 3]


async def test_a_branch_limited_operator_gets_422_for_an_unknown_branch(panel, board):
    ana = await panel.operator("ana", branches=["centro"])
    assert (await ana.get("/api/tickets", params={"branch": "narnia"})).status_code == 422
    assert (await ana.get("/api/tickets", params={"branch": "palermo"})).status_code == 404  # not hers: as before


async def test_search_by_number_and_by_phone_whole_start_and_end(board):
    assert numbers(await board.get("/api/tickets", params={"q": "4"})) == [4]
    assert numbers(await board.get("/api/tickets", params={"q": "5491155500004"})) == [4]
    assert numbers(await board.get("/api/tickets", params={"q": "+54 9 11 555-00004"})) == [4]  # formatting ignored
    assert numbers(await board.get("/api/tickets", params={"q": "5491155500"})) == [7, 6, 5, 4, 3, 2, 1]  # start
    assert numbers(await board.get("/api/tickets", params={"q": "00006"})) == [6]  # end
    assert numbers(await board.get("/api/tickets", params={"q": "nada"})) == []
    assert numbers(await board.get("/api/tickets", params={"q": "00006", "status": "FACTURADO"})) == []


async def test_keyset_pages_neither_repeat_nor_skip(panel, board):
    for number in range(8, 40):
        await panel.ticket(ticket_state(number, status="COMPLETO", branch="centro"))
    for sort in ("newest", "last_message"):
        seen, cursor, pages = [], None, 0
        while True:
            params = {"limit": 5, "sort": sort, **({"cursor": cursor} if cursor else {})}
            page = (await board.get("/api/tickets", params=params)).json()
            assert page["total"] == 39
            seen += [t["number"] for t in page["items"]]
            cursor, pages = page["next_cursor"], pages + 1
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 39 and pages == 8
        assert seen == sorted(seen, reverse=True)  # here last message order equals number order
    filtered = (await board.get("/api/tickets", params={"limit": 3, "branch": "palermo"})).json()
    assert [t["number"] for t in filtered["items"]] == [5, 2] and filtered["next_cursor"] is None


def cursor_of(*values: int) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


async def test_a_later_page_repeats_the_first_pages_count_and_an_older_cursor_still_counts(panel, board):
    first = (await board.get("/api/tickets", params={"limit": 3})).json()
    assert [first["total"], first["total_capped"]] == [7, False] and first["next_cursor"]
    await panel.ticket(ticket_state(8, status="COMPLETO", branch="centro"))
    later = (await board.get("/api/tickets", params={"limit": 3, "cursor": first["next_cursor"]})).json()
    assert numbers_of(later) == [4, 3, 2] and later["total"] == 7  # counted with the first page, not again
    assert (await board.get("/api/tickets", params={"limit": 3})).json()["total"] == 8
    # a cursor from before the count travelled in it (a panel open across the upgrade): counted afresh
    old = (await board.get("/api/tickets", params={"limit": 3, "cursor": cursor_of(5)})).json()
    assert numbers_of(old) == [4, 3, 2] and old["total"] == 8
    old_sorted = (await board.get("/api/tickets", params={"limit": 3, "sort": "last_message",
                                                           "cursor": cursor_of(later_ms(first), 5)})).json()
    assert old_sorted["total"] == 8
    for forged in (cursor_of(5, 1001, 0), cursor_of(5, 7, 2), cursor_of(5, -1, 0), cursor_of(5, 7)):
        response = await board.get("/api/tickets", params={"cursor": forged})
        assert response.status_code == 422, forged


def numbers_of(page: dict) -> list[int]:
    return [t["number"] for t in page["items"]]


def later_ms(page: dict) -> int:
    last = page["items"][-1]["last_message_at"]
    return int(datetime.fromisoformat(last).timestamp() * 1000)


async def test_unread_count_filter_and_sort_by_last_message(panel, board):
    t2 = ticket_state(2, status="COMPLETO", branch="palermo", phone="5491155500002", version=2,
                      last=T0 + timedelta(hours=5))
    await panel.ticket(t2)
    await panel.message(inbound(t2, "¿llega hoy?", at=T0 + timedelta(hours=5)), conversation(t2, unread=2))
    t4 = ticket_state(4, status="FACTURADO", branch="centro", phone="5491155500004", version=2,
                      last=T0 + timedelta(hours=3))
    await panel.ticket(t4)
    await panel.message(inbound(t4, "gracias", at=T0 + timedelta(hours=3)), conversation(t4, unread=1))
    assert (await board.get("/api/unread")).json() == {"tickets": 2}
    assert numbers(await board.get("/api/tickets", params={"unread": "true"})) == [4, 2]
    assert numbers(await board.get("/api/tickets", params={"unread": "true", "branch": "centro"})) == [4]
    by_last = (await board.get("/api/tickets", params={"sort": "last_message"})).json()["items"]
    assert [t["number"] for t in by_last][:3] == [2, 4, 7]
    assert [t["unread"] for t in by_last][:2] == [2, 1]
    # Reading a conversation clears its unread mark (the chat service's answer updates the view).
    read = conversation(t2, unread=0, version=2)
    panel.chat.answers["mark_read"] = lambda body: read.model_dump(mode="json")
    response = await board.post("/api/tickets/2/read")
    assert response.status_code == 200 and response.json() == {"number": 2, "unread": 0}
    assert panel.chat.calls[-1][1]["number"] == 2 and panel.chat.calls[-1][1]["actor"]["id"] == "root"
    assert (await board.get("/api/unread")).json() == {"tickets": 1}
    assert numbers(await board.get("/api/tickets", params={"unread": "true"})) == [4]


async def test_details_missing_fields_history_and_window(panel, board):
    history = [StatusChange(from_status=None, to_status="INCOMPLETO", at=T0, by=Actor(kind="system")),
               StatusChange(from_status="INCOMPLETO", to_status="EN PROCESO", at=T0 + timedelta(minutes=5),
                            by=Actor(kind="operator", id="ana", name="Ana"))]
    details = TicketDetails(delivery="delivery", address="Thames 2000", order="1 docena de carne",
                            location=Location(latitude=-34.58, longitude=-58.43, name="Casa"), notes="timbre roto",
                            name="Lucía")
    state = ticket_state(9, status="EN PROCESO", details=details, missing=["notes"], history=history, version=3)
    await panel.ticket(state)
    panel.clock.set(T0 + timedelta(hours=23))
    board = await panel.admin()  # the fixture's session went idle while the clock jumped
    await panel.message(inbound(state, "hola"), conversation(state, window_closes=T0 + timedelta(hours=24)))
    detail = (await board.get("/api/tickets/9")).json()
    assert detail["details"]["order"] == "1 docena de carne" and detail["details"]["delivery"] == "delivery"
    assert detail["details"]["location"]["map_url"].startswith("https://www.openstreetmap.org/?mlat=-34.580000")
    assert detail["missing"] == ["notes"]
    assert [(h["from_status"], h["to_status"], h["by"].get("name")) for h in detail["history"]] == [
        (None, "INCOMPLETO", None), ("INCOMPLETO", "EN PROCESO", "Ana")]
    assert detail["window"] == {"open": True, "closes_at": "2026-09-16T12:00:00+00:00"}
    assert detail["server_time"] == "2026-09-16T11:00:00+00:00"
    panel.clock.set(T0 + timedelta(hours=24))  # open iff now < closes_at
    assert (await board.get("/api/tickets/9")).json()["window"]["open"] is False
    assert (await board.get("/api/tickets/9/messages")).json()["window"]["open"] is False
    no_conversation = (await board.get("/api/tickets/1")).json()
    assert no_conversation["window"] == {"open": False, "closes_at": None}
    assert (await board.get("/api/tickets/12345")).status_code == 404
    assert (await board.get("/api/tickets/abc")).status_code == 422


async def test_branches_and_topics_come_from_the_configuration(board):
    assert [b["id"] for b in (await board.get("/api/branches")).json()] == ["centro", "palermo"]
    assert [t["title"] for t in (await board.get("/api/topics")).json()] == ["Reclamo", "Estado de mi pedido"]


def test_catalog_reads_the_bot_configuration_file(tmp_path):
    from mostrador.panel_api.catalog import load_catalog

    default = load_catalog(None)
    assert "centro" in default.branch_ids() and default.topics
    broken = tmp_path / "bot.yaml"
    broken.write_text("branches: [oops")
    assert load_catalog(broken).branches == []  # a broken file must not take the panel down
