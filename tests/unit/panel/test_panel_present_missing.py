"""The board reads a ticket's ``missing`` fields from its stored state without parsing it whole
(bench B4): it must find the top-level list even when other parts of the state mention the key."""

from __future__ import annotations

from datetime import UTC, datetime

from mostrador.events.schemas.common import Customer
from mostrador.events.schemas.tickets import TicketDetails, TicketState
from mostrador.panel_api.present import missing_of


def state(missing: list[str], **details) -> str:
    now = datetime.now(UTC)
    return TicketState(ticket_id="t", number=1, version=1, type="PEDIDO", status="INCOMPLETO",
                       customer=Customer(key="549", name='Ana "missing": ["name"]'), details=TicketDetails(**details),
                       missing=missing, opened_at=now, first_message_id="m", last_message_at=now,
                       last_message_id="m").model_dump_json()


def test_the_top_level_list_even_with_the_key_elsewhere():
    assert missing_of(state(["address", "order"], extra={"missing": "x"}, notes='"missing": ["nope"]')) == [
        "address", "order"]


def test_empty_and_absent():
    assert missing_of(state([])) == []
    assert missing_of('{"number": 1}') == []


def test_anything_unexpected_is_parsed_whole():
    assert missing_of('{"missing": ["a"], "history": [{"missing": 3}]}') == ["a"]


def test_whitespace_after_the_key():
    assert missing_of('{"missing" : [], "x": 1}'.replace('" :', '":')) == []
    assert missing_of('{"number": 1, "missing":  ["address"]}') == ["address"]
