"""Stored Conversation events -> public integration events. Each carries the message's and the
conversation's whole state after the change, with their versions, so the panel upserts by version
and never depends on delivery order.

Not published: SendAttempted (bookkeeping of the send path; publishing it would wake the sender
again), TicketChanged, StatusKept, MediaKept and WindowClosed (nothing a reader sees changed yet,
or the panel hears it from tickets/the scheduler directly). A gap in versions is fine for upserts.
"""

from __future__ import annotations

from typing import Any

from mostrador.chat.domainmodel import Conversation
from mostrador.chat.window import closes_at
from mostrador.events.envelope import EventPayload
from mostrador.events.schemas.chat import (ConversationRead, ConversationState, MessageRecorded, MessageState,
                                           MessageUpdated, SendFailed, SendRequested)
from mostrador.events.schemas.common import Actor, ApiError, Customer

RECORDED = {"InboundRecorded", "OutboundRequested"}
UPDATED = {"Sent", "SendFailed", "StatusUpdated", "Retried", "MediaAvailable"}
TO_SEND = {"OutboundRequested", "Retried"}  # the message is pending afterwards: the sender's work item


def media_url(media_id: str) -> str:
    return f"/api/media/{media_id}"  # served by panel-api from what ingest stored


def message_state(conv: Conversation, message_id: str) -> MessageState:
    m = conv.messages[message_id]
    inbound = m["inbound"]
    if inbound and inbound.get("media") and m.get("media_id"):
        # The photo is ours now: point the panel at our copy instead of Meta's short-lived, token-only URL.
        inbound = {**inbound, "media": {**inbound["media"], "id": m["media_id"], "url": media_url(m["media_id"])}}
    return MessageState(
        message_id=m["message_id"], version=m["version"], direction=m["direction"],
        author=Actor.model_validate(m["author"]), customer_key=m["customer_key"], ticket_id=m["ticket_id"],
        number=m["number"], at=m["at"], inbound=inbound, content=m["content"], wamid=m["wamid"], status=m["status"],
        status_at=m["status_at"], error=m["error"], attempts=m["attempts"])


def conversation_state(conv: Conversation, hours: float) -> ConversationState:
    ticket = conv.ticket or {}
    return ConversationState(
        customer=Customer.model_validate(conv.customer), version=conv.version, ticket_id=ticket.get("ticket_id"),
        number=ticket.get("number"), ticket_status=ticket.get("status"), last_inbound_at=conv.last_inbound_at,
        window_closes_at=closes_at(conv.last_inbound_at, hours, conv.closed_for, conv.closed_at),
        unread=conv.unread, last_message_at=conv.last_message_at)


def make_translate(hours: float):
    """The relay's translate(domain_event, conversation_after_it) for a given window length."""

    def translate(domain_event: Any, conv: Any) -> EventPayload | list[EventPayload] | None:
        if not isinstance(conv, Conversation):
            return None  # TicketIndex: private
        name = type(domain_event).__name__
        if name in RECORDED or name in UPDATED:
            kind = MessageRecorded if name in RECORDED else MessageUpdated
            event = kind(message=message_state(conv, domain_event.message_id),
                         conversation=conversation_state(conv, hours))
            if name in TO_SEND:
                return [event, SendRequested(message_id=domain_event.message_id, customer_key=conv.customer["key"],
                                             number=event.message.number)]
            return event
        if name == "GaveUp":
            return SendFailed(message=message_state(conv, domain_event.message_id),
                              error=ApiError.model_validate(domain_event.error),
                              customer=Customer.model_validate(conv.customer))
        if name == "Read":
            return ConversationRead(conversation=conversation_state(conv, hours),
                                    by=Actor.model_validate(domain_event.by))
        return None

    return translate
