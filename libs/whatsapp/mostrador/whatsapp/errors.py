"""Typed errors for the Graph API and the rule for which ones are worth retrying.

Meta asks integrators to branch on ``code`` (and ``error_data.details``), never on the title.
"""

from __future__ import annotations

from typing import Any

import httpx

# Throughput, pair limit, transient platform errors, app/WABA call limits.
RETRYABLE_CODES = frozenset({130429, 131056, 131000, 131016, 131057, 1, 2, 4, 80007})
# Known permanent codes; retrying them only burns quota (or sends twice).
PERMANENT_CODES = frozenset({131047, 131026, 131051, 131048, 131049, 131030, 190, 0, 10, 100, 131008, 131009})

OUTSIDE_WINDOW = 131047
PAIR_LIMIT = 131056
THROUGHPUT_LIMIT = 130429


class ContentError(ValueError):
    """Outbound content breaks a WhatsApp limit; raised before any HTTP call."""


class WhatsAppError(Exception):
    """The Graph API refused a request (or could not be reached: then ``code`` is None)."""

    def __init__(
        self,
        code: int | None,
        http_status: int | None,
        title: str,
        details: str | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        fbtrace_id: str | None = None,
        subcode: int | None = None,
    ) -> None:
        self.code = code
        self.http_status = http_status
        self.title = title
        self.details = details
        self.retryable = retryable
        self.retry_after = retry_after
        self.fbtrace_id = fbtrace_id
        self.subcode = subcode
        self.attempts = 1
        self.maybe_sent = False  # the request may have reached Meta (its answer was lost): see from_transport
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"HTTP {self.http_status}" if self.http_status else "no response"
        extra = f": {self.details}" if self.details else ""
        return f"WhatsApp error {self.code} ({where}) {self.title}{extra}"

    @property
    def outside_window(self) -> bool:
        return self.code == OUTSIDE_WINDOW

    @property
    def pair_limited(self) -> bool:
        return self.code == PAIR_LIMIT


def is_permanent_code(code: int) -> bool:
    return code in PERMANENT_CODES or 200 <= code <= 299 or 132000 <= code <= 132999


def is_retryable(code: int | None, http_status: int | None) -> bool:
    if code is not None and code in RETRYABLE_CODES:
        return True
    if code is not None and is_permanent_code(code):
        return False
    return http_status is not None and http_status >= 500


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (the HTTP-date form is not used by Graph; it is ignored)."""
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
    return seconds if 0 <= seconds < 86_400 else None


def from_response(response: httpx.Response) -> WhatsAppError:
    """Map an error response (Meta's ``{"error": {...}}`` shape, or anything a proxy returns)."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return WhatsAppError(
            None, response.status_code, f"unexpected response {response.text[:200]!r}",
            retryable=is_retryable(None, response.status_code), retry_after=retry_after(response),
        )
    code = error.get("code") if isinstance(error.get("code"), int) else None
    data = error.get("error_data") if isinstance(error.get("error_data"), dict) else {}
    subcode = error.get("error_subcode")
    return WhatsAppError(
        code,
        response.status_code,
        str(error.get("message") or error.get("error_user_title") or "error"),
        details=data.get("details") if isinstance(data.get("details"), str) else None,
        retryable=is_retryable(code, response.status_code),
        retry_after=retry_after(response),
        fbtrace_id=error.get("fbtrace_id") if isinstance(error.get("fbtrace_id"), str) else None,
        subcode=subcode if isinstance(subcode, int) else None,
    )


# Failures after the request went out: Meta may have acted on it. A send retried blindly after one of
# these can reach the customer twice (connect errors and pool timeouts are safe: nothing left).
MAYBE_SENT = (httpx.ReadTimeout, httpx.WriteTimeout, httpx.ReadError, httpx.WriteError,
              httpx.RemoteProtocolError)


def from_transport(exc: httpx.TransportError) -> WhatsAppError:
    """Timeouts and connection failures: worth retrying — but ``maybe_sent`` says whether the request may
    have landed, in which case a send must first learn its fate (the status webhook) before another try."""
    kind = "timeout" if isinstance(exc, httpx.TimeoutException) else "connection error"
    error = WhatsAppError(None, None, f"{kind}: {type(exc).__name__} {exc}".strip(), retryable=True)
    error.maybe_sent = isinstance(exc, MAYBE_SENT)
    return error
