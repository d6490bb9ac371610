"""Meta-shaped webhook bodies built by the fake Graph (and usable directly by tests).

Shapes follow Meta's webhook reference (CLOUD-API.md §1): one entry, one ``messages`` change,
``contacts[]`` + ``messages[]`` for inbound, ``statuses[]`` for outbound delivery states.
Bodies are serialised like Meta's: compact, non-ASCII as ``\\uXXXX`` — the bytes that get signed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

WABA_ID = "102030405060708"
PHONE_NUMBER_ID = "109876543210987"
DISPLAY_PHONE_NUMBER = "5491100000000"


@dataclass
class SimCustomer:
    """A simulated WhatsApp user: a phone (wa_id), a BSUID (user_id), or both."""

    wa_id: str | None = None
    user_id: str | None = None
    name: str | None = None
    username: str | None = None

    @property
    def key(self) -> str:
        key = self.wa_id or self.user_id
        if key is None:
            raise ValueError("a customer needs a wa_id or a user_id")
        return key

    def contact(self) -> dict[str, Any]:
        profile: dict[str, Any] = {"name": self.name or self.username or self.key}
        if self.username:
            profile["username"] = self.username
        contact: dict[str, Any] = {"profile": profile}
        if self.wa_id:
            contact["wa_id"] = self.wa_id
        if self.user_id:
            contact["user_id"] = self.user_id
        return contact

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "wa_id": self.wa_id, "user_id": self.user_id, "name": self.name,
                "username": self.username}


PRESETS = [
    SimCustomer("5491100000001", "AR.1093847561029384", "Lucía Fernández"),
    SimCustomer("5491100000002", "AR.2284710093857461", "Martín Gómez"),
    SimCustomer("5491100000003", "AR.3391028475610293", "Sofía"),
    SimCustomer(None, "AR.4470192837465019", "Caro", "@caro.compras"),
]


def mint_user_id(wa_id: str) -> str:
    """A stable fake BSUID for a phone (Meta gives every user one since 2026)."""
    digits = str(int(hashlib.sha256(wa_id.encode()).hexdigest()[:15], 16)).rjust(16, "0")[:16]
    return f"AR.{digits}"


def new_wamid() -> str:
    return "wamid." + base64.b64encode(b"FAKE" + secrets.token_bytes(20)).decode()


def new_media_id() -> str:
    return str(10**15 + secrets.randbelow(9 * 10**15))


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode()


def envelope(value: dict[str, Any], *, phone_number_id: str = PHONE_NUMBER_ID,
             display_phone_number: str = DISPLAY_PHONE_NUMBER, waba_id: str = WABA_ID) -> dict[str, Any]:
    metadata = {"display_phone_number": display_phone_number, "phone_number_id": phone_number_id}
    value = {"messaging_product": "whatsapp", "metadata": metadata} | value
    return {"object": "whatsapp_business_account",
            "entry": [{"id": waba_id, "changes": [{"value": value, "field": "messages"}]}]}


InboundKind = Literal["text", "button_reply", "list_reply", "location", "image", "sticker", "audio", "video",
                      "document", "reaction", "unsupported"]


class InboundSpec(BaseModel):
    """What a simulated customer sends (the body of ``POST /_fake/inbound``)."""

    model_config = ConfigDict(extra="forbid")

    type: InboundKind = "text"
    wa_id: str | None = Field(default=None, max_length=32)
    user_id: str | None = Field(default=None, max_length=140)
    name: str | None = Field(default=None, max_length=200)
    username: str | None = Field(default=None, max_length=100)
    text: str | None = Field(default=None, max_length=65536)
    reply_id: str | None = None  # button_reply / list_reply: the id of the tapped button or row
    reply_title: str | None = None
    reply_description: str | None = None
    context_id: str | None = None  # the business message being answered (buttons/list carry it)
    latitude: float | None = None
    longitude: float | None = None
    location_name: str | None = None
    address: str | None = None
    media_id: str | None = None
    mime_type: str | None = None
    sha256: str | None = None
    caption: str | None = None
    filename: str | None = None
    voice: bool | None = None
    emoji: str | None = None
    reaction_to: str | None = None  # reaction: the wamid reacted to
    original_type: str = "poll_creation"  # unsupported: what Meta could not render
    wamid: str | None = None  # force an id (e.g. to replay a duplicate like Meta's retries)
    timestamp: int | None = None

    def customer(self) -> SimCustomer:
        return SimCustomer(self.wa_id, self.user_id, self.name, self.username)


_MEDIA_DEFAULT_MIME = {"image": "image/jpeg", "sticker": "image/webp", "audio": "audio/ogg; codecs=opus",
                       "video": "video/mp4", "document": "application/pdf"}


def message_item(spec: InboundSpec, *, display_phone_number: str = DISPLAY_PHONE_NUMBER) -> dict[str, Any]:
    """One ``messages[]`` entry, as Meta sends it for ``spec``."""
    customer = spec.customer()
    message: dict[str, Any] = {}
    if customer.wa_id:
        message["from"] = customer.wa_id
    if customer.user_id:
        message["from_user_id"] = customer.user_id
    if spec.context_id:
        message["context"] = {"from": display_phone_number, "id": spec.context_id}
    message["id"] = spec.wamid or new_wamid()
    message["timestamp"] = str(spec.timestamp if spec.timestamp is not None else int(time.time()))
    kind = spec.type
    if kind == "text":
        message |= {"type": "text", "text": {"body": spec.text or ""}}
    elif kind in ("button_reply", "list_reply"):
        reply: dict[str, Any] = {"id": spec.reply_id or "", "title": spec.reply_title or spec.reply_id or ""}
        if kind == "list_reply" and spec.reply_description:
            reply["description"] = spec.reply_description
        message |= {"type": "interactive", "interactive": {"type": kind, kind: reply}}
    elif kind == "location":
        location: dict[str, Any] = {"latitude": spec.latitude or 0.0, "longitude": spec.longitude or 0.0}
        location |= {k: v for k, v in (("name", spec.location_name), ("address", spec.address)) if v}
        message |= {"type": "location", "location": location}
    elif kind in _MEDIA_DEFAULT_MIME:
        media: dict[str, Any] = {"mime_type": spec.mime_type or _MEDIA_DEFAULT_MIME[kind],
                                 "sha256": spec.sha256 or base64.b64encode(secrets.token_bytes(32)).decode(),
                                 "id": spec.media_id or new_media_id()}
        if spec.caption and kind in ("image", "video", "document"):
            media["caption"] = spec.caption
        if spec.filename and kind == "document":
            media["filename"] = spec.filename
        if kind == "audio":
            media["voice"] = spec.voice if spec.voice is not None else True
        if kind == "sticker":
            media["animated"] = False
        message |= {"type": kind, kind: media}
    elif kind == "reaction":
        reaction = {"message_id": spec.reaction_to or "", "emoji": spec.emoji or "👍"}
        message |= {"type": "reaction", "reaction": reaction}
    else:
        message |= {"type": "unsupported", "unsupported": {"type": spec.original_type},
                    "errors": [{"code": 131051, "title": "Message type unknown",
                                "message": "Message type unknown",
                                "error_data": {"details": "Message type is currently not supported."}}]}
    return message


def build_inbound(spec: InboundSpec | None = None, *, phone_number_id: str = PHONE_NUMBER_ID,
                  display_phone_number: str = DISPLAY_PHONE_NUMBER, waba_id: str = WABA_ID,
                  **fields: Any) -> dict[str, Any]:
    """A whole inbound webhook body: ``build_inbound(wa_id="549…", name="Lucía", text="Hola")``."""
    spec = spec or InboundSpec(**fields)
    value = {"contacts": [spec.customer().contact()],
             "messages": [message_item(spec, display_phone_number=display_phone_number)]}
    return envelope(value, phone_number_id=phone_number_id, display_phone_number=display_phone_number,
                    waba_id=waba_id)


def message_id_of(payload: dict[str, Any]) -> str:
    """The wamid of the first message in a body built by ``build_inbound``."""
    return payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]


def status_item(wamid: str, status: str, customer: SimCustomer, *, callback_data: str | None = None,
                errors: list[dict[str, Any]] | None = None, timestamp: int | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": wamid, "status": status, "timestamp": str(timestamp or int(time.time()))}
    if customer.wa_id:
        item["recipient_id"] = customer.wa_id
    if customer.user_id:
        item["recipient_user_id"] = customer.user_id
    if status == "sent":
        item["pricing"] = {"billable": False, "pricing_model": "PMP", "type": "free_customer_service",
                           "category": "service"}
    if errors:
        item["errors"] = errors
    if callback_data is not None:
        item["biz_opaque_callback_data"] = callback_data
    return item


def build_statuses(items: list[dict[str, Any]], customers: list[SimCustomer], **where: Any) -> dict[str, Any]:
    """A status webhook (2026 shape: with the recipients' ``contacts[]``)."""
    return envelope({"contacts": [c.contact() for c in customers], "statuses": items}, **where)
