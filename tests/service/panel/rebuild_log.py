"""A tickets event log with tickets in every stage, and the board it must rebuild to (shared by the
service and the integration test of panel_api.rebuild)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from mostrador.tickets.application import TicketsApp
from mostrador.tickets.outbound import ticket_state

T0 = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)
BOT, OPERATOR = {"kind": "bot"}, {"kind": "operator", "id": "op1"}


def message(customer: int, i: int) -> dict:
    key = f"5491100{customer:05d}"
    return {"message_id": f"w{customer}-{i}", "timestamp": (T0 + timedelta(minutes=customer, seconds=i)).isoformat(),
            "type": "text", "text": "quiero 2 pizzas", "phone_number_id": "1",
            "customer": {"key": key, "wa_id": key, "name": f"Cliente {customer}"}}


def write_tickets(app: TicketsApp, first: int, count: int) -> list[int]:
    """Tickets in every stage: some only opened, some completed by the bot, some closed by an operator."""
    numbers = []
    for c in range(first, first + count):
        number = app.receive_message(key=f"in-{c}-0", message=message(c, 0))
        numbers.append(number)
        if c % 3 == 0:
            continue
        app.receive_message(key=f"in-{c}-1", message=message(c, 1))
        fields = {"type": "PEDIDO", "branch": "centro", "topic": None, "missing": [],
                  "details": {"delivery": "pickup", "order": "2 muzza", "name": f"Cliente {c}"}}
        app.update_details(key=f"bot-{c}", number=number, fields=fields, by=BOT, at=T0, complete=True)
        if c % 3 == 2:
            app.change_status(key=f"op-{c}-1", number=number, to="EN PROCESO", by=OPERATOR, at=T0)
            app.change_status(key=f"op-{c}-2", number=number, to="FACTURADO", by=OPERATOR, at=T0)
    return numbers


def board(db: Any) -> dict[int, dict]:
    return {int(r["number"]): json.loads(r["state"]) for r in db.all("SELECT number, state FROM tickets")}


def expected(app: TicketsApp, numbers: list[int]) -> dict[int, dict]:
    return {n: json.loads(ticket_state(app.get_ticket(n)).model_dump_json()) for n in numbers}
