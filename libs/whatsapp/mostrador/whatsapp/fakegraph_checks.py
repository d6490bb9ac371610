"""The fake Graph's rough validation of send bodies and Meta's error response shape."""

from __future__ import annotations

import secrets
from typing import Any

SEND_TYPES = {"text", "interactive", "template", "image", "audio", "video", "document", "sticker", "location",
              "contacts", "reaction"}
INTERACTIVE_TYPES = {"button", "list", "cta_url", "location_request_message", "flow", "product",
                     "product_list"}

# code → (title, details, default HTTP status), wording abridged from Meta's error-code page.
KNOWN_ERRORS: dict[int, tuple[str, str, int]] = {
    130429: ("Rate limit hit", "Cloud API message throughput has been reached.", 429),
    131056: ("(Business Account, Consumer Account) pair rate limit hit",
             ("Message failed to send because there were too many messages sent from this phone number to "
              "the same phone number in a short period of time."), 429),
    131047: ("Re-engagement message", ("Message failed to send because more than 24 hours have passed since "
                                       "the customer last replied to this number."), 400),
    131026: ("Message Undeliverable", ("Message failed to send because the recipient is not a WhatsApp user "
                                       "or has not accepted the latest terms."), 400),
    131000: ("Something went wrong", "Message failed to send due to an unknown error.", 500),
    131016: ("Service unavailable", "A service is temporarily unavailable.", 503),
    131057: ("Account in maintenance mode", "Business Account is being upgraded to a higher throughput.",
             503),
    131048: ("Spam rate limit hit", ("Message failed to send because there are restrictions on how many "
                                     "messages can be sent from this phone number."), 429),
    131051: ("Unsupported message type", "Message type is not currently supported.", 400),
    131008: ("Required parameter is missing", "A required parameter is missing.", 400),
    131009: ("Parameter value is not valid", "One or more parameter values are invalid.", 400),
    190: ("Invalid OAuth access token - Cannot parse access token", "The access token is invalid or expired.",
          401),
    100: ("Invalid parameter", "The request included one or more unsupported or misspelled parameters.", 400),
    1: ("An unknown error occurred", "Invalid request or possible server error.", 400),
    2: ("Service temporarily unavailable", "Temporary due to downtime or due to being overloaded.", 503),
    4: ("Application request limit reached", "The app has reached its API call rate limit.", 429),
    80007: ("Rate limit issues", "The WhatsApp Business Account has reached its rate limit.", 429),
}


def error_body(code: int, title: str | None = None, details: str | None = None) -> dict[str, Any]:
    known_title, known_details, _ = KNOWN_ERRORS.get(code, ("Error", "", 400))
    error: dict[str, Any] = {
        "message": f"(#{code}) {title or known_title}",
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details or known_details},
        "fbtrace_id": "A" + secrets.token_urlsafe(16),
    }
    if code == 130429:
        error["error_subcode"] = 2494055
    return {"error": error}


def status_error(code: int, title: str | None = None, details: str | None = None) -> dict[str, Any]:
    """An error as it appears inside a ``failed`` status webhook (``statuses[].errors[]``)."""
    known_title, known_details, _ = KNOWN_ERRORS.get(code, ("Error", "", 400))
    return {"code": code, "title": title or known_title, "message": title or known_title,
            "error_data": {"details": details or known_details},
            "href": "/documentation/business-messaging/whatsapp/support/error-codes"}


def default_status(code: int) -> int:
    if code in KNOWN_ERRORS:
        return KNOWN_ERRORS[code][2]
    if code == 0:
        return 401
    if code == 10 or 200 <= code <= 299:
        return 403
    return 400


class BadSend(Exception):
    def __init__(self, code: int, details: str) -> None:
        super().__init__(details)
        self.code, self.details = code, details


def _need(condition: bool, details: str, code: int = 131009) -> None:
    if not condition:
        raise BadSend(code, details)


def _text(value: Any, limit: int, what: str, *, required: bool = True) -> None:
    if value is None and not required:
        return
    _need(isinstance(value, str) and 0 < len(value) <= limit,
          f"{what} must be a string of 1 to {limit} characters")


def check_send(body: Any) -> str:
    """Raise ``BadSend`` for a body Meta would refuse, else return a label (e.g. ``interactive.list``)."""
    _need(isinstance(body, dict), "The request body must be a JSON object", 100)
    _need(body.get("messaging_product") == "whatsapp", "messaging_product must be 'whatsapp'", 100)
    to, recipient = body.get("to"), body.get("recipient")
    addressed = any(c.isdigit() for c in to) if isinstance(to, str) else isinstance(recipient, str) and recipient
    _need(bool(addressed), "The parameter to (a phone number) or recipient (a user id) is required", 100)
    kind = body.get("type", "text")
    _need(isinstance(kind, str) and kind in SEND_TYPES, f"Unsupported message type {str(kind)[:40]!r}", 100)
    part = body.get(kind)
    _need(isinstance(part, dict) or (kind == "contacts" and isinstance(part, list)),
          f"The parameter {kind} is required", 131008)
    callback = body.get("biz_opaque_callback_data")
    _text(callback, 512, "biz_opaque_callback_data", required=False)
    if kind == "text":
        _text(part.get("body"), 4096, "text.body")
    elif kind == "template":
        _need(isinstance(part.get("name"), str) and bool(part["name"]), "template.name is required", 131008)
        language = part.get("language")
        _need(isinstance(language, dict) and isinstance(language.get("code"), str),
              "template.language.code is required", 131008)
    elif kind in ("image", "audio", "video", "document", "sticker"):
        _need(isinstance(part.get("link"), str) or isinstance(part.get("id"), str),
              f"{kind} needs a link or an id", 131008)
    elif kind == "location":
        _need(all(isinstance(part.get(k), int | float) for k in ("latitude", "longitude")),
              "location needs latitude and longitude")
    elif kind == "interactive":
        return "interactive." + _check_interactive(part)
    return kind


def _check_interactive(part: dict[str, Any]) -> str:
    kind = part.get("type")
    _need(isinstance(kind, str) and kind in INTERACTIVE_TYPES,
          f"Unsupported interactive type {str(kind)[:40]!r}", 100)
    body = part.get("body")
    action = part.get("action")
    _need(isinstance(action, dict), "interactive.action is required", 131008)
    if kind in ("button", "list", "cta_url", "location_request_message"):
        _need(isinstance(body, dict), "interactive.body is required", 131008)
        _text(body.get("text"), 4096 if kind == "list" else 1024, "interactive.body.text")
    if kind == "button":
        buttons = action.get("buttons")
        _need(isinstance(buttons, list) and 1 <= len(buttons) <= 3, "action.buttons must hold 1 to 3 buttons")
        titles = []
        for button in buttons:
            reply = button.get("reply") if isinstance(button, dict) else None
            _need(isinstance(reply, dict), "each button needs a reply object", 131008)
            _text(reply.get("title"), 20, "button title")
            _text(reply.get("id"), 256, "button id")
            titles.append(reply["title"])
        _need(len(set(titles)) == len(titles), "button titles must be unique")
    elif kind == "list":
        _text(action.get("button"), 20, "action.button")
        sections = action.get("sections")
        _need(isinstance(sections, list) and 1 <= len(sections) <= 10,
              "action.sections must hold 1 to 10 sections")
        rows = [row for s in sections if isinstance(s, dict) for row in (s.get("rows") or [])]
        _need(1 <= len(rows) <= 10, "a list allows 1 to 10 rows in total")
        for row in rows:
            _need(isinstance(row, dict), "each row must be an object")
            _text(row.get("title"), 24, "row title")
            _text(row.get("id"), 200, "row id")
            _text(row.get("description"), 72, "row description", required=False)
    elif kind == "cta_url":
        parameters = action.get("parameters")
        _need(isinstance(parameters, dict), "action.parameters is required", 131008)
        _text(parameters.get("display_text"), 20, "display_text")
        _text(parameters.get("url"), 2000, "url")
    return kind
