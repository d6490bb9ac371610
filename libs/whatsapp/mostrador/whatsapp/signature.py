"""Webhook authenticity: Meta's X-Hub-Signature-256 header and the GET verification handshake.

The HMAC is computed over the raw request bytes exactly as received: Meta signs its own
``\\uXXXX``-escaped serialisation, so a re-serialised dict would not match.
"""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign(app_secret: str, body: bytes) -> str:
    """The header value Meta would send for ``body``: ``sha256=<lowercase hex>``."""
    return PREFIX + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def verify(app_secret: str, body: bytes, header: str | None) -> bool:
    """True only if ``header`` is a valid ``sha256=`` HMAC of ``body`` under ``app_secret``."""
    # An empty secret would make anyone able to forge signatures: refuse rather than accept.
    if not app_secret or not header or not header.startswith(PREFIX):
        return False
    expected = sign(app_secret, body).encode()
    given = PREFIX.encode() + header[len(PREFIX):].strip().lower().encode("utf-8", "backslashreplace")
    return hmac.compare_digest(expected, given)


def handshake(mode: str | None, token: str | None, challenge: str | None, verify_token: str) -> str | None:
    """The challenge to echo (as text/plain, verbatim) when Meta's GET verification is valid, else None."""
    if mode != "subscribe" or token is None or challenge is None or not verify_token:
        return None
    if not hmac.compare_digest(token.encode("utf-8", "backslashreplace"), verify_token.encode()):
        return None
    return challenge
