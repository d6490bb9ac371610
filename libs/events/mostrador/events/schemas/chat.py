"""Events published by chat: every message of every conversation, with its delivery state.

Like tickets, each event carries the whole state of the message (and of the conversation)
after the change, versioned, so views upsert and never depend on order."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime

from mostrador.events.envelope import EventPayload
from mostrador.events.schemas.common import Actor, ApiError, Customer, OutboundContent, Value
from mostrador.events.schemas.ingest import InboundMessage

MessageStatus = Literal["received", "pending", "sent", "delivered", "read", "failed"]


class MessageState(Value):
    message_id: str  # ours (uuid), stable across retries
    version: int
    direction: Literal["in", "out"]
    author: Actor
    customer_key: str
    ticket_id: str | None = None
    number: int | None = None
    at: AwareDatetime  # customer timestamp for inbound; request time for outbound
    inbound: InboundMessage | None = None
    content: OutboundContent | None = None
    wamid: str | None = None
    status: MessageStatus
    status_at: AwareDatetime | None = None
    error: ApiError | None = None
    attempts: int = 0

    def preview(self) -> str:
        if self.inbound:
            return self.inbound.preview()
        return self.content.preview() if self.content else ""


class ConversationState(Value):
    customer: Customer
    version: int
    ticket_id: str | None = None
    number: int | None = None
    ticket_status: str | None = None
    last_inbound_at: AwareDatetime | None = None
    window_closes_at: AwareDatetime | None = None
    unread: int = 0
    last_message_at: AwareDatetime | None = None


class MessageRecorded(EventPayload):
    TYPE = "chat.message.recorded"
    VERSION = 1

    message: MessageState
    conversation: ConversationState


class MessageUpdated(EventPayload):
    """Sent, delivered, read, failed (with its reason) or retried."""

    TYPE = "chat.message.updated"
    VERSION = 1

    message: MessageState
    conversation: ConversationState


class ConversationRead(EventPayload):
    TYPE = "chat.conversation.read"
    VERSION = 1

    conversation: ConversationState
    by: Actor


class WindowState(Value):
    open: bool
    closes_at: AwareDatetime | None = None


class SendRequested(EventPayload):
    """An outbound message is waiting to be sent (new, or retried): chat's own work item.

    Published next to the message's recorded/updated event, so that chat's sender consumes only
    these instead of every message event of its own (bench B2: five deliveries per customer message)."""

    TYPE = "chat.send.requested"
    VERSION = 1

    message_id: str
    customer_key: str
    number: int | None = None  # the ticket it belongs to (log lines carry it)


class SendFailed(EventPayload):
    """A send failed for good (not retried): for other systems and alerting; the message event has it too."""

    TYPE = "chat.message.failed"
    VERSION = 1

    message: MessageState
    error: ApiError
    customer: Customer
