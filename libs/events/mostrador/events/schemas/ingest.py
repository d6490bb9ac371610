"""Events published by ingest: what WhatsApp told us, normalised, nothing decided."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime

from mostrador.events.envelope import EventPayload
from mostrador.events.schemas.common import ApiError, Customer, Location, Value

MessageType = Literal[
    "text", "interactive", "button", "location", "image", "audio", "video", "document", "sticker",
    "reaction", "contacts", "order", "system", "unsupported", "unknown",
]


class InteractiveReply(Value):
    kind: Literal["button_reply", "list_reply", "nfm_reply", "other"]
    id: str
    title: str | None = None
    description: str | None = None
    response_json: str | None = None  # nfm_reply (WhatsApp Flows): the submitted form, as Meta's JSON string


class Media(Value):
    id: str
    mime_type: str | None = None
    sha256: str | None = None
    caption: str | None = None
    filename: str | None = None
    voice: bool | None = None
    url: str | None = None


class Reaction(Value):
    message_id: str | None = None
    emoji: str | None = None


class ReplyContext(Value):
    message_id: str | None = None
    from_: str | None = None
    forwarded: bool = False


class InboundMessage(Value):
    """One customer message, every type WhatsApp sends, with only the fields that type carries."""

    message_id: str  # the wamid: the dedupe key for Meta's retries
    phone_number_id: str
    customer: Customer
    timestamp: AwareDatetime
    type: MessageType
    text: str | None = None
    interactive: InteractiveReply | None = None
    location: Location | None = None
    media: Media | None = None
    reaction: Reaction | None = None
    contacts: list[dict[str, Any]] = []
    context: ReplyContext | None = None
    system: dict[str, Any] | None = None
    order: dict[str, Any] | None = None  # type "order": Meta's order object (catalog_id, product_items, text)
    original_type: str | None = None  # for unsupported/unknown: what Meta called it
    errors: list[ApiError] = []

    def preview(self) -> str:
        """A one-line human rendering for lists, logs and the panel."""
        if self.text:
            return self.text
        if self.interactive:
            return self.interactive.title or self.interactive.id
        if self.media:
            return self.media.caption or f"[{self.type}]"
        if self.location:
            return self.location.name or self.location.address or "[ubicación]"
        if self.reaction:
            return self.reaction.emoji or "[reacción]"
        return f"[{self.original_type or self.type}]"


class MessageReceived(EventPayload):
    TYPE = "ingest.message.received"
    VERSION = 1

    message: InboundMessage


DeliveryStatus = Literal["sent", "delivered", "read", "played", "failed", "deleted"]


class StatusReceived(EventPayload):
    """A delivery status for one of our outbound messages. May arrive out of order or twice."""

    TYPE = "ingest.message.status"
    VERSION = 1

    message_id: str  # the wamid of OUR message
    phone_number_id: str
    status: DeliveryStatus
    timestamp: AwareDatetime
    recipient: Customer
    errors: list[ApiError] = []
    callback_data: str | None = None  # biz_opaque_callback_data: our own message id, echoed back


class MediaReceived(EventPayload):
    """An inbound message carried a media object (ingest's own work item: fetch and keep it).

    Published next to ``ingest.message.received`` for the same message, so that ingest consumes only
    media messages, not every message (bench B1: that cost a quarter of the webhook's CPU)."""

    TYPE = "ingest.media.received"
    VERSION = 1

    message: InboundMessage


class MediaStored(EventPayload):
    """Ingest fetched an inbound media object from the Graph API and keeps it (receipts, photos)."""

    TYPE = "ingest.media.stored"
    VERSION = 1

    media_id: str
    message_id: str
    customer_key: str
    mime_type: str | None = None
    size: int
    sha256: str | None = None
