"""How the fake Graph delivers webhooks: Meta's way, signed over the exact bytes, retried unless HTTP 200."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from mostrador.whatsapp.signature import sign

log = logging.getLogger(__name__)


async def post_signed(
    entry: dict[str, Any], raw: bytes, *, url: str, app_secret: str,
    transport: httpx.AsyncBaseTransport | None, retry_delays: tuple[float, ...],
    client: httpx.AsyncClient | None = None,
) -> None:
    """POST ``raw`` with ``X-Hub-Signature-256``; only 200 counts as delivered (Meta's rule), anything else
    — another status, a connection error, an exception from an in-process app — is retried after each
    delay. Progress is written into ``entry`` (status_code, attempts, error). ``client``: a shared one
    (the caller closes it); otherwise one is made for this webhook."""
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(app_secret, raw)}
    own = client is None
    client = client or httpx.AsyncClient(transport=transport, timeout=10.0)
    try:
        for attempt, delay in enumerate((0.0, *retry_delays), start=1):
            if delay:
                await asyncio.sleep(delay)
            entry["attempts"] = attempt
            try:
                response = await client.post(url, content=raw, headers=headers)
                entry["status_code"], entry["error"] = response.status_code, None
            except Exception as exc:  # noqa: BLE001 - a broken receiver must not kill the fake; record it
                entry["status_code"], entry["error"] = None, f"{type(exc).__name__}: {exc}"
                log.warning("fake graph: webhook delivery failed: %s", entry["error"])
            if entry["status_code"] == 200:
                return
    finally:
        if own and transport is None:  # a caller's transport (or client) is theirs to close
            await client.aclose()
