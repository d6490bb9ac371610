"""GET/POST /webhooks/whatsapp: Meta's handshake, and every delivery checked, parsed and published.

We answer 200 only once the broker confirmed every event of the batch; if it cannot (broker down)
we answer 503 so Meta retries — nothing is lost. Event ids come from the wamid (and the status),
so Meta's duplicate deliveries publish the same ids and change nothing downstream.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from mostrador.events.bus import Bus, PublishError
from mostrador.events.envelope import Envelope, new_envelope, stable_id
from mostrador.events.schemas.ingest import MediaReceived, MessageReceived, StatusReceived
from mostrador.platform import metrics
from mostrador.platform.clock import Clock
from mostrador.whatsapp.signature import handshake, verify
from mostrador.whatsapp.webhook import WebhookBatch, WebhookError, parse_webhook

log = structlog.get_logger("ingest")


class BodyTooLarge(Exception):
    pass


async def read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def envelopes_for(batch: WebhookBatch, clock: Clock) -> list[Envelope]:
    now = clock.now()
    out = []
    for message in batch.messages:
        event_id = stable_id("ingest", "message", message.message_id)
        out.append(new_envelope(MessageReceived(message=message), producer="ingest", aggregate_id=event_id,
                                event_id=event_id, occurred_at=now))
        if message.media is not None:  # for our own media fetcher
            out.append(new_envelope(MediaReceived(message=message), producer="ingest", aggregate_id=event_id,
                                    event_id=stable_id("ingest", "media-received", message.message_id),
                                    occurred_at=now))
    for status in batch.statuses:
        event_id = stable_id("ingest", "status", status.message_id, status.status)
        out.append(new_envelope(status, producer="ingest", aggregate_id=stable_id("wamid", status.message_id),
                                event_id=event_id, occurred_at=now))
    return out


def webhook_router(verify_token: str) -> APIRouter:
    """GET /webhooks/whatsapp, Meta's subscription handshake (the POST is webhook_receiver)."""
    router = APIRouter(tags=["webhooks"])

    @router.get("/webhooks/whatsapp", response_class=PlainTextResponse)
    async def verify_subscription(request: Request) -> Response:
        q = request.query_params
        challenge = handshake(q.get("hub.mode"), q.get("hub.verify_token"), q.get("hub.challenge"), verify_token)
        if challenge is None:
            metrics.WEBHOOK_REQUESTS.labels("handshake_refused").inc()
            return PlainTextResponse("forbidden", status_code=403)
        return PlainTextResponse(challenge)

    return router


def webhook_receiver(bus: Bus, clock: Clock, *, app_secret: str, max_body: int,
                     publish_timeout: float = 5.0) -> Callable[[Request], Awaitable[Response]]:
    """POST /webhooks/whatsapp, as a fast route (platform.service.Service.fast_routes): it takes the raw
    request and needs none of FastAPI's machinery, which was a quarter of its CPU (bench B1). It is
    therefore not in the OpenAPI document (its body is Meta's, signed; docs/asyncapi.yaml has the events)."""

    async def receive(request: Request) -> Response:
        try:
            body = await read_capped(request, max_body)
        except BodyTooLarge:
            metrics.WEBHOOK_REQUESTS.labels("too_large").inc()
            return JSONResponse({"error": "payload_too_large", "message": f"body over {max_body} bytes"}, 413)
        if not verify(app_secret, body, request.headers.get("x-hub-signature-256")):
            metrics.WEBHOOK_REQUESTS.labels("bad_signature").inc()
            log.warning("webhook.bad_signature", size=len(body))
            return JSONResponse({"error": "invalid_signature",
                                 "message": "X-Hub-Signature-256 missing or wrong"}, 401)
        try:
            batch = parse_webhook(body)
        except WebhookError as exc:
            metrics.WEBHOOK_REQUESTS.labels("malformed").inc()
            return JSONResponse({"error": "invalid_payload", "message": str(exc)}, 400)
        envelopes = envelopes_for(batch, clock)
        try:
            await bus.publish_many(envelopes, timeout=publish_timeout)
        except (PublishError, TimeoutError) as exc:
            metrics.WEBHOOK_REQUESTS.labels("unavailable").inc()
            log.error("webhook.publish_failed", error=repr(exc), events=len(envelopes))
            return JSONResponse({"error": "unavailable", "message": "try again"}, 503, headers={"Retry-After": "5"})
        metrics.WEBHOOK_REQUESTS.labels("accepted").inc()
        if batch.ignored:
            log.info("webhook.ignored_parts", ignored=batch.ignored[:20])
        return JSONResponse({"status": "ok", "messages": len(batch.messages), "statuses": len(batch.statuses)})

    return receive
