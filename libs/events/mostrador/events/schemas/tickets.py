"""Events published by tickets. Each carries the ticket's whole state after the change, so a
view can upsert it by ``ticket.version`` and never depend on delivery order."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime

from mostrador.events.envelope import EventPayload
from mostrador.events.schemas.common import Actor, Customer, Location, Value
from mostrador.events.schemas.ingest import InboundMessage

TicketStatus = Literal[
    "INCOMPLETO", "COMPLETO", "EN PROCESO", "FACTURADO", "CANCELADO", "RESUELTO", "NO CONTESTA", "VENCIDO"
]
TICKET_STATUSES: tuple[str, ...] = TicketStatus.__args__  # type: ignore[attr-defined]
FINAL_STATUSES = frozenset({"FACTURADO", "CANCELADO", "RESUELTO", "NO CONTESTA", "VENCIDO"})

TicketType = Literal["PEDIDO", "AYUDA"]
TICKET_TYPES: tuple[str, ...] = TicketType.__args__  # type: ignore[attr-defined]


class TicketDetails(Value):
    delivery: Literal["delivery", "pickup"] | None = None
    address: str | None = None
    location: Location | None = None
    order: str | None = None
    name: str | None = None
    notes: str | None = None
    extra: dict[str, str] = {}


class StatusChange(Value):
    from_status: TicketStatus | None
    to_status: TicketStatus
    at: AwareDatetime
    by: Actor
    reason: str | None = None


class TicketState(Value):
    ticket_id: str
    number: int
    version: int
    customer: Customer
    type: TicketType
    status: TicketStatus
    branch: str | None = None
    topic: str | None = None
    details: TicketDetails = TicketDetails()
    missing: list[str] = []
    opened_at: AwareDatetime
    first_message_id: str
    last_message_at: AwareDatetime
    last_message_id: str
    message_count: int = 1
    history: list[StatusChange] = []

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class TicketOpened(EventPayload):
    TYPE = "tickets.ticket.opened"
    VERSION = 1

    ticket: TicketState


class MessageAttached(EventPayload):
    """A customer message was filed under this ticket (the first one too, right after opened)."""

    TYPE = "tickets.ticket.message_received"
    VERSION = 1

    ticket: TicketState
    message: InboundMessage


class StatusChanged(EventPayload):
    TYPE = "tickets.ticket.status_changed"
    VERSION = 1

    ticket: TicketState
    change: StatusChange


class DetailsChanged(EventPayload):
    TYPE = "tickets.ticket.details_changed"
    VERSION = 1

    ticket: TicketState
    by: Actor
