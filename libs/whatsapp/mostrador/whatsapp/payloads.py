"""Outbound content → the exact Graph ``/messages`` JSON, with WhatsApp's limits checked first.

Checking here turns a guaranteed 400 (code 100/131009) into a clear ``ContentError`` before
any quota or retry is spent.
"""

from __future__ import annotations

import re
from typing import Any

from mostrador.events.schemas.common import Customer, OutboundContent
from mostrador.whatsapp.errors import ContentError

MAX_CALLBACK_DATA = 512
_PHONE = re.compile(r"^\+?[\d\s\-()]+$")
# Template body parameters may not hold newlines/tabs nor more than 4 consecutive spaces (error 132018).
_BAD_PARAM = re.compile(r"[\n\t]| {5,}")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ContentError(message)


def _length(value: str | None, limit: int, what: str, *, required: bool = False) -> None:
    if value is None or value == "":
        _check(not required, f"{what} is required")
        return
    _check(len(value) <= limit, f"{what} has {len(value)} characters, WhatsApp allows {limit}")


def _http_url(value: str | None, what: str) -> None:
    _check(bool(value) and value.startswith(("https://", "http://")), f"{what} must be an http(s) URL")


def validate(content: OutboundContent) -> None:
    """Raise ``ContentError`` if WhatsApp would reject ``content``."""
    kind = content.kind
    if kind == "text":
        _check(bool(content.text and content.text.strip()), "text message needs a non-empty text")
        _length(content.text, 4096, "text")
    elif kind == "buttons":
        _length(content.text, 1024, "button message body", required=True)
        _length(content.header, 60, "header")
        _length(content.footer, 60, "footer")
        count = len(content.buttons)
        _check(1 <= count <= 3, f"reply buttons need 1 to 3 buttons, got {count}")
        for button in content.buttons:
            _length(button.title, 20, f"button title {button.title!r}", required=True)
            _length(button.id, 256, "button id", required=True)
        titles = [b.title for b in content.buttons]
        _check(len(set(titles)) == len(titles), f"button titles must be unique: {titles}")
        ids = [b.id for b in content.buttons]
        _check(len(set(ids)) == len(ids), f"button ids must be unique: {ids}")
    elif kind == "list":
        _length(content.text, 4096, "list message body", required=True)
        _length(content.header, 60, "header")
        _length(content.footer, 60, "footer")
        _length(content.list_button, 20, "list button label", required=True)
        count = len(content.sections)
        _check(1 <= count <= 10, f"a list needs 1 to 10 sections, got {count}")
        rows = [row for section in content.sections for row in section.rows]
        _check(1 <= len(rows) <= 10, f"a list allows 1 to 10 rows in total, got {len(rows)}")
        for section in content.sections:
            _check(bool(section.rows), f"list section {section.title!r} has no rows")
            what = f"section title {section.title!r}" if section.title else "section title (several sections)"
            _length(section.title, 24, what, required=len(content.sections) > 1)
        for row in rows:
            _length(row.title, 24, f"row title {row.title!r}", required=True)
            _length(row.description, 72, f"row description of {row.id!r}")
            _length(row.id, 200, "row id", required=True)
        ids = [row.id for row in rows]
        _check(len(set(ids)) == len(ids), f"list row ids must be unique: {ids}")
    elif kind == "location_request":
        _length(content.text, 1024, "location request body", required=True)
    elif kind == "cta_url":
        _length(content.text, 1024, "call-to-action body", required=True)
        _length(content.header, 60, "header")
        _length(content.footer, 60, "footer")
        _http_url(content.url, "call-to-action url")
        _length(content.url_label, 20, "call-to-action label", required=True)
    elif kind == "template":
        spec = content.template
        _check(spec is not None, "template message needs a template")
        assert spec is not None
        _check(bool(spec.name.strip()), "template needs a name")
        _check(bool(spec.language.strip()), "template needs a language code")
        for index, parameter in enumerate(spec.parameters, start=1):
            _check(bool(parameter.strip()), f"template parameter {{{{{index}}}}} is empty")
            _check(not _BAD_PARAM.search(parameter),
                   f"template parameter {{{{{index}}}}} has a newline, tab or more than 4 consecutive spaces")
    elif kind == "image":
        _http_url(content.media_link, "image link")
        _length(content.text, 1024, "image caption")
    else:  # pragma: no cover - the schema's Literal already rules this out
        raise ContentError(f"unknown content kind {kind!r}")


def recipient_fields(to: Customer) -> dict[str, str]:
    """``to`` = the phone when we know it, else ``recipient`` = the business-scoped user id."""
    if to.wa_id:
        return {"to": to.wa_id}
    if to.user_id:
        return {"recipient": to.user_id}
    if _PHONE.match(to.key):
        return {"to": to.key}
    return {"recipient": to.key}


def _interactive(content: OutboundContent, kind: str, action: dict[str, Any]) -> dict[str, Any]:
    interactive: dict[str, Any] = {"type": kind}
    if content.header:
        interactive["header"] = {"type": "text", "text": content.header}
    interactive["body"] = {"text": content.text}
    if content.footer:
        interactive["footer"] = {"text": content.footer}
    interactive["action"] = action
    return interactive


def _body(content: OutboundContent) -> tuple[str, dict[str, Any]]:
    kind = content.kind
    if kind == "text":
        text = content.text or ""
        return "text", {"preview_url": "https://" in text or "http://" in text, "body": text}
    if kind == "buttons":
        buttons = [{"type": "reply", "reply": {"id": b.id, "title": b.title}} for b in content.buttons]
        return "interactive", _interactive(content, "button", {"buttons": buttons})
    if kind == "list":
        sections = []
        for section in content.sections:
            rows = []
            for row in section.rows:
                rows.append({"id": row.id, "title": row.title}
                            | ({"description": row.description} if row.description else {}))
            sections.append(({"title": section.title} if section.title else {}) | {"rows": rows})
        action = {"button": content.list_button, "sections": sections}
        return "interactive", _interactive(content, "list", action)
    if kind == "location_request":
        return "interactive", {"type": "location_request_message", "body": {"text": content.text},
                               "action": {"name": "send_location"}}
    if kind == "cta_url":
        action = {"name": "cta_url", "parameters": {"display_text": content.url_label, "url": content.url}}
        return "interactive", _interactive(content, "cta_url", action)
    if kind == "template":
        spec = content.template
        assert spec is not None
        template: dict[str, Any] = {"name": spec.name, "language": {"code": spec.language}}
        if spec.parameters:
            parameters = [{"type": "text", "text": p} for p in spec.parameters]
            template["components"] = [{"type": "body", "parameters": parameters}]
        return "template", template
    image: dict[str, Any] = {"link": content.media_link}
    if content.text:
        image["caption"] = content.text
    return "image", image


def build_payload(
    to: Customer, content: OutboundContent, *, callback_data: str | None = None, reply_to: str | None = None
) -> dict[str, Any]:
    """The JSON body for ``POST /{phone_number_id}/messages``. Validates first."""
    validate(content)
    if callback_data is not None:
        _length(callback_data, MAX_CALLBACK_DATA, "callback data")
    kind, body = _body(content)
    payload: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    payload |= recipient_fields(to)
    if reply_to:
        payload["context"] = {"message_id": reply_to}
    payload["type"] = kind
    payload[kind] = body
    if callback_data:
        payload["biz_opaque_callback_data"] = callback_data
    return payload


def read_payload(wamid: str, *, typing: bool = False) -> dict[str, Any]:
    """Mark an inbound message (and the ones before it) read; optionally show "typing…" (≤ 25 s)."""
    payload: dict[str, Any] = {"messaging_product": "whatsapp", "status": "read", "message_id": wamid}
    if typing:
        payload["typing_indicator"] = {"type": "text"}
    return payload
