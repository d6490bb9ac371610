"""Events published by the scheduler when a durable deadline falls due."""

from __future__ import annotations

from pydantic import AwareDatetime

from mostrador.events.envelope import EventPayload


class ExpiryDue(EventPayload):
    """A ticket reached its expiry time (48 h from its first message). Tickets decides VENCIDO."""

    TYPE = "scheduler.ticket.expiry_due"
    VERSION = 1

    ticket_id: str
    number: int
    opened_at: AwareDatetime
    due_at: AwareDatetime


class WindowClosed(EventPayload):
    """WhatsApp's 24 h customer-service window for this customer closed."""

    TYPE = "scheduler.window.closed"
    VERSION = 1

    customer_key: str
    ticket_id: str | None = None
    number: int | None = None
    last_inbound_at: AwareDatetime
    closed_at: AwareDatetime
