"""Parse a WhatsApp Cloud API webhook body into our normalised events.

Walks every entry, change, message and status (Meta batches up to 1000 updates per POST),
joins each message to its contact by id, and skips-and-reports malformed items instead of
failing the whole batch. Only a body that is not a WhatsApp webhook at all raises.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, get_args

from mostrador.events.schemas.common import ApiError
from mostrador.events.schemas.ingest import DeliveryStatus, InboundMessage, StatusReceived
from mostrador.whatsapp.coerce import api_errors, ident, items, obj, scrub, text, timestamp
from mostrador.whatsapp.messages import Directory, Skip, parse_message

OBJECT = "whatsapp_business_account"
STATUSES = frozenset(get_args(DeliveryStatus))
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class WebhookError(ValueError):
    """The body is not a WhatsApp Business webhook (not JSON, wrong object, broken entry list)."""


@dataclass
class WebhookBatch:
    messages: list[InboundMessage] = field(default_factory=list)
    statuses: list[StatusReceived] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # why each skipped change or item was left out
    errors: list[ApiError] = field(default_factory=list)  # value-level errors (account/app/system)


def parse_webhook(raw: bytes) -> WebhookBatch:
    """Everything in one webhook POST. Raises only ``WebhookError``."""
    try:
        document = json.loads(raw)
    except (ValueError, TypeError, RecursionError) as exc:
        raise WebhookError(f"body is not valid JSON: {str(exc)[:200]}") from None
    if isinstance(raw, bytes | bytearray) and _SURROGATE_ESCAPE.search(raw):
        document = scrub(document)
    if not isinstance(document, dict):
        raise WebhookError(f"body must be a JSON object, got {type(document).__name__}")
    if document.get("object") != OBJECT:
        raise WebhookError(f"object must be {OBJECT!r}, got {str(document.get('object'))[:100]!r}")
    entries = document.get("entry")
    if not isinstance(entries, list):
        raise WebhookError("entry must be a list")
    if entries and not any(isinstance(entry, dict) for entry in entries):
        raise WebhookError("entry[0] must be an object")
    batch = WebhookBatch()
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):  # garbage beside real entries: their messages must not be lost with it
            batch.ignored.append(f"entry[{i}]: not an object")
            continue
        changes = entry.get("changes")
        if not isinstance(changes, list):
            batch.ignored.append(f"entry[{i}]: changes is not a list")
            continue
        for j, change in enumerate(changes):
            _change(batch, change, f"entry[{i}].changes[{j}]")
    return batch


def _change(batch: WebhookBatch, raw: Any, where: str) -> None:
    change = obj(raw)
    if change is None:
        batch.ignored.append(f"{where}: not an object")
        return
    if change.get("field") != "messages":
        batch.ignored.append(f"{where}: field {str(change.get('field'))[:100]!r} not handled")
        return
    value = obj(change.get("value"))
    if value is None:
        batch.ignored.append(f"{where}: value is not an object")
        return
    batch.errors.extend(api_errors(value.get("errors")))
    messages, statuses = items(value.get("messages")), items(value.get("statuses"))
    phone_number_id = ident((obj(value.get("metadata")) or {}).get("phone_number_id"))
    if phone_number_id is None:
        if messages or statuses:
            left_out = len(messages) + len(statuses)
            batch.ignored.append(f"{where}: no metadata.phone_number_id, {left_out} items left out")
        return
    directory = Directory(value.get("contacts"))
    for k, message in enumerate(messages):
        try:
            parsed = parse_message(message, phone_number_id=phone_number_id, directory=directory)
            batch.messages.append(parsed)
        except (Skip, ValueError, TypeError) as exc:  # ValueError covers pydantic's ValidationError
            batch.ignored.append(f"{where}.messages[{k}]: {_reason(exc)}")
    for k, status in enumerate(statuses):
        try:
            batch.statuses.append(parse_status(status, phone_number_id=phone_number_id, directory=directory))
        except (Skip, ValueError, TypeError) as exc:
            batch.ignored.append(f"{where}.statuses[{k}]: {_reason(exc)}")


def parse_status(raw: Any, *, phone_number_id: str, directory: Directory) -> StatusReceived:
    status = obj(raw)
    if status is None:
        raise Skip("not an object")
    message_id = ident(status.get("id"))
    if message_id is None:
        raise Skip("status without id")
    state = text(status.get("status"))
    if state not in STATUSES:
        raise Skip(f"status {message_id}: unknown status {str(status.get('status'))[:50]!r}")
    when = timestamp(status.get("timestamp"))
    if when is None:
        raise Skip(f"status {message_id}: missing or invalid timestamp")
    recipient = directory.customer(ident(status.get("recipient_id")), ident(status.get("recipient_user_id")))
    if recipient is None:
        raise Skip(f"status {message_id}: neither recipient_id nor recipient_user_id")
    return StatusReceived(
        message_id=message_id,
        phone_number_id=phone_number_id,
        status=state,
        timestamp=when,
        recipient=recipient,
        errors=api_errors(status.get("errors")),
        callback_data=text(status.get("biz_opaque_callback_data")),
    )


def _reason(exc: Exception) -> str:
    if isinstance(exc, Skip):
        return str(exc)
    return f"malformed ({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''})"
