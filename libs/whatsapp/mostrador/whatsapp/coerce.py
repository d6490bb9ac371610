"""Defensive readers for untrusted webhook JSON: each returns the value in the expected shape or None.

Webhook bodies are outside input: anything may be missing, null, or of the wrong type, and the
parser must never crash on it, so every field goes through one of these.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from mostrador.events.schemas.common import ApiError

# Year 9999: beyond this datetime cannot represent the instant.
_MAX_SECONDS = 253_402_300_799


def scrub(document: Any) -> Any:
    """Replace lone UTF-16 surrogates (reachable only through ``\\uD8xx`` escapes) with U+FFFD, in place.

    Valid pairs (Meta's emoji) are already joined by ``json.loads``; a lone one would make every
    later UTF-8 encoding (our event envelopes) fail, far from this parser.
    """
    if isinstance(document, str):
        return _fix(document)
    stack = [document]  # iterative: a deeply nested body must not exhaust the call stack here
    while stack:
        node = stack.pop()
        pairs = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        for key, value in pairs:
            if isinstance(value, str):
                node[key] = _fix(value)
            elif isinstance(value, dict | list):
                stack.append(value)
            if isinstance(key, str) and _fix(key) != key:
                node[_fix(key)] = node.pop(key)
    return document


def _fix(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def obj(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def ident(value: Any) -> str | None:
    """An id (wamid, wa_id, media id): a non-blank string; a JSON integer is tolerated."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def number(value: Any) -> float | None:
    """A finite float from a JSON number or a numeric string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int):
        value = float(value) if abs(value) < 1e300 else math.inf
    if isinstance(value, float) and math.isfinite(value):
        return value
    return None


def timestamp(value: Any) -> datetime | None:
    """Meta's timestamps: a string (or number) of Unix seconds → an aware UTC datetime."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        digits = value.strip()
        try:
            value = int(digits) if digits.isascii() and digits.isdigit() else float(digits)
        except ValueError:
            return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        value = int(value)
    if not isinstance(value, int) or not 0 <= value <= _MAX_SECONDS:
        return None
    return datetime.fromtimestamp(value, UTC)


def api_errors(value: Any) -> list[ApiError]:
    """Meta's ``errors[]`` (on messages, statuses or a change value); entries without a code are dropped."""
    found: list[ApiError] = []
    for raw in items(value):
        error = obj(raw)
        if error is None:
            continue
        code = error.get("code")
        if isinstance(code, str) and code.strip().isascii() and code.strip().isdigit():
            code = int(code)
        if not isinstance(code, int) or isinstance(code, bool):
            continue
        details = text((obj(error.get("error_data")) or {}).get("details"))
        found.append(
            ApiError(
                code=code,
                title=text(error.get("title")),
                message=text(error.get("message")),
                details=details,
                href=text(error.get("href")),
            )
        )
    return found
