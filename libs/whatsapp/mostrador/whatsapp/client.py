"""Async client for the WhatsApp Cloud (Graph) API: send, mark read, fetch media.

Paces every send (number throughput + per-recipient pair limit), retries only errors Meta
documents as transient (exponential backoff with full jitter, honouring ``Retry-After``) and
raises typed ``WhatsAppError``s. ``transport`` lets tests and the embedded sandbox talk to the
fake Graph in-process.
"""

from __future__ import annotations

import asyncio
import logging
import random as random_module
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import quote

import httpx

from mostrador.events.schemas.common import Customer, OutboundContent
from mostrador.whatsapp import payloads
from mostrador.whatsapp.errors import (
    PAIR_LIMIT, THROUGHPUT_LIMIT, WhatsAppError, from_response, from_transport,
)
from mostrador.whatsapp.pacing import PairLimiter, SlidingWindow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SendResult:
    wamid: str  # Meta's id for our message: status webhooks refer to it
    attempts: int


class WhatsAppClient:
    def __init__(
        self,
        *,
        base_url: str,
        phone_number_id: str,
        access_token: str,
        transport: httpx.AsyncBaseTransport | None = None,
        throughput: float = 80.0,
        pair_burst: int = 45,
        pair_interval: float = 6.0,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        timeout: float = 15.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = random_module.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.phone_number_id = phone_number_id
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._sleep = sleep
        self._random = random
        self._rate = SlidingWindow.per_second(throughput, clock=clock, sleep=sleep)  # messages in any second
        self._pair = PairLimiter(pair_burst, pair_interval, clock=clock, sleep=sleep)
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            transport=transport,
            timeout=timeout,
            headers={"Authorization": f"Bearer {access_token}"},
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    validate = staticmethod(payloads.validate)

    def build_payload(
        self, to: Customer, content: OutboundContent, *, callback_data: str | None = None,
        reply_to: str | None = None,
    ) -> dict[str, Any]:
        return payloads.build_payload(to, content, callback_data=callback_data, reply_to=reply_to)

    async def send(
        self, to: Customer, content: OutboundContent, *, key: str, reply_to: str | None = None
    ) -> SendResult:
        """Send once (validated, paced, retried when transient). ``key`` — our own message id — travels
        as ``biz_opaque_callback_data`` and comes back on every status webhook of this message."""
        payload = self.build_payload(to, content, callback_data=key, reply_to=reply_to)
        response, attempts = await self._with_retries(  # never blindly again once it may have landed
            lambda: self._call("POST", f"{self.phone_number_id}/messages", payload), recipient=to.key,
            retry_maybe_sent=False,
        )
        return SendResult(wamid=_wamid(response), attempts=attempts)

    async def mark_read(self, wamid: str, typing: bool = False) -> None:
        """Blue ticks for the customer's message (and the earlier ones); optionally show "typing…"."""
        body = payloads.read_payload(wamid, typing=typing)
        await self._with_retries(lambda: self._call("POST", f"{self.phone_number_id}/messages", body))

    async def get_media(self, media_id: str) -> tuple[bytes, str]:
        """Download an inbound media object: GET ``/{media_id}`` for its URL, then GET the URL (bearer)."""
        info, _ = await self._with_retries(lambda: self._call("GET", quote(media_id, safe="")), pace=False)
        meta = _json(info)
        url = meta.get("url")
        if not isinstance(url, str) or not url:
            raise WhatsAppError(None, info.status_code, f"media {media_id} has no download url")
        data, _ = await self._with_retries(lambda: self._call("GET", url), pace=False)
        mime = meta.get("mime_type")
        if not isinstance(mime, str) or not mime:
            mime = data.headers.get("content-type", "application/octet-stream").split(";")[0]
        return data.content, mime

    async def _call(self, method: str, url: str, body: dict[str, Any] | None = None) -> httpx.Response:
        try:
            response = await self._http.request(method, url, json=body)
        except httpx.TransportError as exc:
            raise from_transport(exc) from exc
        if response.status_code >= 400:
            raise from_response(response)
        return response

    async def _with_retries(
        self, call: Callable[[], Awaitable[httpx.Response]], *, recipient: str | None = None,
        pace: bool = True, retry_maybe_sent: bool = True,
    ) -> tuple[httpx.Response, int]:
        attempt = 0
        while True:
            attempt += 1
            if recipient is not None:
                await self._pair.acquire(recipient)
            if pace:
                await self._rate.acquire()
            try:
                return await call(), attempt
            except WhatsAppError as exc:
                exc.attempts = attempt
                landed = exc.maybe_sent and not retry_maybe_sent  # trying again could deliver it twice
                if not exc.retryable or attempt >= self.max_attempts or landed:
                    raise
                await self._back_off(exc, attempt, recipient)

    async def _back_off(self, exc: WhatsAppError, attempt: int, recipient: str | None) -> None:
        delay = exc.retry_after if exc.retry_after is not None else self._delay(exc, attempt)
        log.warning("whatsapp retry %s/%s in %.2fs after %s", attempt, self.max_attempts, delay, exc)
        # Limits are waited out in the bucket they belong to, so only the affected traffic pauses.
        if exc.code == PAIR_LIMIT and recipient is not None:
            self._pair.hold(recipient, delay)
        elif exc.code == THROUGHPUT_LIMIT:
            self._rate.hold(delay)
        else:
            await self._sleep(delay)

    def _delay(self, exc: WhatsAppError, attempt: int) -> float:
        if exc.code == PAIR_LIMIT:
            # Meta's guidance for the pair limit: retry after 4^X seconds; a little jitter on top.
            return 4.0 ** (attempt - 1) * (1 + 0.25 * self._random())
        return self._random() * min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    return body if isinstance(body, dict) else {}


def _wamid(response: httpx.Response) -> str:
    messages = _json(response).get("messages")
    first = messages[0] if isinstance(messages, list) and messages else None
    wamid = first.get("id") if isinstance(first, dict) else None
    if not isinstance(wamid, str) or not wamid:
        # Accepted but unreadable: never retry (it may have been sent), surface it instead.
        raise WhatsAppError(None, response.status_code, "send accepted without a message id")
    return wamid
