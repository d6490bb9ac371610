"""Events published by the bot: what the intake captured, and the replies it wants sent."""

from __future__ import annotations

from mostrador.events.envelope import EventPayload
from mostrador.events.schemas.common import Customer, OutboundContent
from mostrador.events.schemas.tickets import TicketDetails, TicketType


class IntakeUpdated(EventPayload):
    """The intake moved on: fields captured so far and what is still missing."""

    TYPE = "bot.intake.updated"
    VERSION = 1

    ticket_id: str
    number: int
    type: TicketType
    branch: str | None = None
    topic: str | None = None
    details: TicketDetails
    missing: list[str]


class IntakeCompleted(EventPayload):
    """The customer confirmed: every required field is there; a person takes over (COMPLETO)."""

    TYPE = "bot.intake.completed"
    VERSION = 1

    ticket_id: str
    number: int
    type: TicketType
    branch: str | None = None
    topic: str | None = None
    details: TicketDetails


class IntakeCancelled(EventPayload):
    """The customer cancelled in the bot (the ticket becomes CANCELADO by the bot)."""

    TYPE = "bot.intake.cancelled"
    VERSION = 1

    ticket_id: str
    number: int
    reason: str | None = None


class ReplyRequested(EventPayload):
    """The bot wants this sent to the customer. Chat sends it, keyed by the envelope's event_id."""

    TYPE = "bot.reply.requested"
    VERSION = 1

    ticket_id: str
    number: int
    customer: Customer
    content: OutboundContent
    in_reply_to: str | None = None  # the inbound wamid that caused it
