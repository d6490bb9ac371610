"""One inbound ``messages[]`` item → ``InboundMessage``, for every type WhatsApp sends.

Unknown types become ``type="unknown"`` (never an exception): Meta adds types without notice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mostrador.events.schemas.common import Customer, Location
from mostrador.events.schemas.ingest import InboundMessage, InteractiveReply, Media, Reaction, ReplyContext
from mostrador.whatsapp.coerce import api_errors, flag, ident, items, number, obj, text, timestamp

MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")


class Skip(Exception):
    """This item is malformed: leave it out of the batch and report why."""


class Directory:
    """The ``contacts[]`` of one change, looked up by id — never by position (batches mix users)."""

    def __init__(self, contacts: Any) -> None:
        self.by_wa_id: dict[str, dict[str, Any]] = {}
        self.by_user_id: dict[str, dict[str, Any]] = {}
        for raw in items(contacts):
            contact = obj(raw)
            if contact is None:
                continue
            if wa_id := ident(contact.get("wa_id")):
                self.by_wa_id.setdefault(wa_id, contact)
            if user_id := ident(contact.get("user_id")):
                self.by_user_id.setdefault(user_id, contact)

    def customer(self, wa_id: str | None, user_id: str | None) -> Customer | None:
        contact = (self.by_wa_id.get(wa_id) if wa_id else None) or (
            self.by_user_id.get(user_id) if user_id else None
        ) or {}
        # The message's own ids win; the contact fills in what the message lacks.
        wa_id = wa_id or ident(contact.get("wa_id"))
        user_id = user_id or ident(contact.get("user_id"))
        key = Customer.key_for(wa_id, user_id)
        if key is None:
            return None
        profile = obj(contact.get("profile")) or {}
        return Customer(
            key=key, wa_id=wa_id, user_id=user_id,
            name=text(profile.get("name")), username=text(profile.get("username")),
        )


def parse_message(raw: Any, *, phone_number_id: str, directory: Directory) -> InboundMessage:
    message = obj(raw)
    if message is None:
        raise Skip("not an object")
    message_id = ident(message.get("id"))
    if message_id is None:
        raise Skip("message without id")
    when = timestamp(message.get("timestamp"))
    if when is None:
        raise Skip(f"message {message_id}: missing or invalid timestamp")
    customer = directory.customer(ident(message.get("from")), ident(message.get("from_user_id")))
    if customer is None:
        raise Skip(f"message {message_id}: neither from nor from_user_id")
    kind = text(message.get("type"))
    reader = _READERS.get(kind or "", _unknown)
    fields = reader(message, kind)
    fields.setdefault("type", kind)
    return InboundMessage(
        message_id=message_id,
        phone_number_id=phone_number_id,
        customer=customer,
        timestamp=when,
        context=_context(message.get("context")),
        errors=api_errors(message.get("errors")),
        **fields,
    )


def _context(raw: Any) -> ReplyContext | None:
    context = obj(raw)
    if context is None:
        return None
    forwarded = context.get("forwarded") is True or context.get("frequently_forwarded") is True
    return ReplyContext(message_id=ident(context.get("id")), from_=ident(context.get("from")),
                        forwarded=forwarded)


def _part(message: dict[str, Any], kind: str) -> dict[str, Any]:
    part = obj(message.get(kind))
    if part is None:
        raise Skip(f"message {message.get('id')}: type {kind} without a {kind!r} object")
    return part


def _text(message: dict[str, Any], kind: str) -> dict[str, Any]:
    body = text(_part(message, kind).get("body"))
    if body is None:
        raise Skip(f"message {message.get('id')}: text without body")
    return {"text": body}


def _interactive(message: dict[str, Any], kind: str) -> dict[str, Any]:
    part = _part(message, kind)
    subtype = text(part.get("type")) or ""
    reply = obj(part.get(subtype)) or {}
    if subtype in ("button_reply", "list_reply"):
        reply_id = ident(reply.get("id"))
        if reply_id is None:
            raise Skip(f"message {message.get('id')}: {subtype} without id")
        return {"interactive": InteractiveReply(
            kind=subtype, id=reply_id, title=text(reply.get("title")),
            description=text(reply.get("description")),
        )}
    if subtype == "nfm_reply":  # a WhatsApp Flow's answer: the form data travels as a JSON string
        response = reply.get("response_json")
        if response is not None and not isinstance(response, str):
            response = json.dumps(response)
        return {"interactive": InteractiveReply(
            kind="nfm_reply", id=text(reply.get("name")) or "flow", title=text(reply.get("body")),
            response_json=response,
        )}
    return {"interactive": InteractiveReply(
        kind="other", id=ident(reply.get("id")) or subtype or "unknown", title=text(reply.get("title")),
    )}


def _button(message: dict[str, Any], kind: str) -> dict[str, Any]:
    # A template's quick-reply button: no interactive object, the payload is our button id.
    part = _part(message, kind)
    payload, label = text(part.get("payload")), text(part.get("text"))
    if not (payload or label):
        raise Skip(f"message {message.get('id')}: button without payload or text")
    return {"interactive": InteractiveReply(kind="button_reply", id=payload or label, title=label)}


def _location(message: dict[str, Any], kind: str) -> dict[str, Any]:
    part = _part(message, kind)
    latitude, longitude = number(part.get("latitude")), number(part.get("longitude"))
    if latitude is None or longitude is None:
        raise Skip(f"message {message.get('id')}: location without latitude/longitude")
    return {"location": Location(
        latitude=latitude, longitude=longitude,
        name=text(part.get("name")), address=text(part.get("address")), url=text(part.get("url")),
    )}


def _media(message: dict[str, Any], kind: str) -> dict[str, Any]:
    part = _part(message, kind)
    media_id = ident(part.get("id"))
    if media_id is None:
        raise Skip(f"message {message.get('id')}: {kind} without media id")
    return {"media": Media(
        id=media_id, mime_type=text(part.get("mime_type")), sha256=text(part.get("sha256")),
        caption=text(part.get("caption")), filename=text(part.get("filename")),
        voice=flag(part.get("voice")), url=text(part.get("url")),
    )}


def _reaction(message: dict[str, Any], kind: str) -> dict[str, Any]:
    part = _part(message, kind)
    # An absent emoji means the customer removed their reaction.
    emoji = text(part.get("emoji")) or None
    return {"reaction": Reaction(message_id=ident(part.get("message_id")), emoji=emoji)}


def _contacts(message: dict[str, Any], kind: str) -> dict[str, Any]:
    cards = message.get(kind)
    if not isinstance(cards, list):
        raise Skip(f"message {message.get('id')}: contacts is not a list")
    return {"contacts": [card for card in cards if isinstance(card, dict)]}


def _order(message: dict[str, Any], kind: str) -> dict[str, Any]:
    part = _part(message, kind)
    return {"order": part, "text": text(part.get("text"))}


def _system(message: dict[str, Any], kind: str) -> dict[str, Any]:
    part = _part(message, kind)
    return {"system": part, "text": text(part.get("body"))}


def _unsupported(message: dict[str, Any], kind: str) -> dict[str, Any]:
    part = obj(message.get(kind)) or {}
    return {"original_type": text(part.get("type"))}


def _unknown(message: dict[str, Any], kind: str | None) -> dict[str, Any]:
    return {"type": "unknown", "original_type": kind}


_READERS: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
    "text": _text,
    "interactive": _interactive,
    "button": _button,
    "location": _location,
    **{media: _media for media in MEDIA_TYPES},
    "reaction": _reaction,
    "contacts": _contacts,
    "order": _order,
    "system": _system,
    "unsupported": _unsupported,
}
