"""The panel's HTTP API: the Pedidos board and a ticket's details (auth and commands join it)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query

from mostrador.events.schemas.tickets import TicketStatus, TicketType
from mostrador.panel_api.board import BadCursor, BoardQuery, list_tickets
from mostrador.panel_api.views import PanelViews


def iso(ms_value: int | None) -> str | None:
    return None if ms_value is None else datetime.fromtimestamp(ms_value / 1000, UTC).isoformat()


def summary(row: dict) -> dict:
    state = json.loads(row["state"])
    return {"number": row["number"], "ticket_id": row["ticket_id"], "opened_at": iso(row["opened_ms"]),
            "last_message_at": iso(row["last_message_ms"]), "name": row["name"], "phone": row["phone"],
            "customer_key": row["customer_key"], "type": row["type"], "status": row["status"],
            "branch": row["branch"], "topic": row["topic"], "unread": row["unread"],
            "missing": state.get("missing", [])}


def api_router(views: PanelViews) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["panel"])

    @router.get("/tickets")
    def tickets(
        status: Annotated[list[TicketStatus] | None, Query()] = None,
        type: Annotated[list[TicketType] | None, Query()] = None,
        branch: Annotated[list[str] | None, Query()] = None,
        topic: Annotated[list[str] | None, Query()] = None,
        q: Annotated[str | None, Query(max_length=40)] = None,
        unread: bool = False,
        sort: Literal["newest", "last_message"] = "newest",
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> dict:
        query = BoardQuery(statuses=list(status or []), types=list(type or []), branches=branch or [],
                           topics=topic or [], q=q, unread=unread, sort=sort, limit=limit, cursor=cursor)
        try:
            page = list_tickets(views.db, query)
        except BadCursor as exc:
            raise HTTPException(422, str(exc)) from None
        return {"items": [summary(r) for r in page["rows"]], "next_cursor": page["next_cursor"],
                "total": page["total"], "total_capped": page["total_capped"]}

    @router.get("/tickets/{number}")
    def ticket(number: int) -> dict:
        row = views.ticket(number)
        if row is None:
            raise HTTPException(404, f"ticket {number} not found")
        return {**summary(row), **json.loads(row["state"])}

    return router
