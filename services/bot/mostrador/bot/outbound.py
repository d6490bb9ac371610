"""Stored domain events -> the bot's integration events (the outbox relay publishes these).

Each output the bot decided is its own stored event carrying everything its payload needs, so this
is a pure function of one event: the relay can call it for any notification, in any process.
"""

from __future__ import annotations

from typing import Any

from mostrador.bot.domainmodel import Conversation
from mostrador.events.envelope import EventPayload
from mostrador.events.schemas import bot
from mostrador.events.schemas.common import Customer, OutboundContent
from mostrador.events.schemas.tickets import TicketDetails


def to_integration(domain_event: Any) -> EventPayload | None:
    """The payload to publish for ``domain_event``, or None for the bot's internal bookkeeping."""
    e = domain_event
    if isinstance(e, Conversation.ReplyRequested):
        return bot.ReplyRequested(
            ticket_id=e.ticket_id, number=e.number, customer=Customer.model_validate(e.customer),
            content=OutboundContent.model_validate(e.content), in_reply_to=e.in_reply_to,
        )
    if isinstance(e, Conversation.IntakeUpdated):
        return bot.IntakeUpdated(ticket_id=e.ticket_id, number=e.number, **_intake(e.intake),
                                 missing=list(e.intake.get("missing", [])))
    if isinstance(e, Conversation.IntakeCompleted):
        return bot.IntakeCompleted(ticket_id=e.ticket_id, number=e.number, **_intake(e.intake))
    if isinstance(e, Conversation.IntakeCancelled):
        return bot.IntakeCancelled(ticket_id=e.ticket_id, number=e.number, reason=e.reason)
    return None


def _intake(intake: dict[str, Any]) -> dict[str, Any]:
    return {"type": intake["type"], "branch": intake.get("branch"), "topic": intake.get("topic"),
            "details": TicketDetails.model_validate(intake.get("details") or {})}
