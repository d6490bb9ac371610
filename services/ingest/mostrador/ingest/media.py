"""Inbound media (payment receipts, photos): fetched from the Graph API by id and kept, so operators
can see them after Meta's URL has expired. Serves them to panel-api, which checks the operator's
access; the route here needs the internal token (ingest faces the internet for the webhook)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac

import structlog
from fastapi import APIRouter, Header, HTTPException, Response

from mostrador.events.bus import Bus
from mostrador.events.envelope import Envelope, new_envelope, stable_id
from mostrador.events.schemas.ingest import MediaReceived, MediaStored, MessageReceived
from mostrador.platform.db import Database

log = structlog.get_logger("ingest.media")


def schema(dialect: str) -> list[str]:
    blob = "BYTEA" if dialect == "postgres" else "BLOB"
    return [f"""CREATE TABLE IF NOT EXISTS media (
        media_id TEXT PRIMARY KEY, message_id TEXT NOT NULL, customer_key TEXT NOT NULL, mime_type TEXT,
        size BIGINT NOT NULL, sha256 TEXT, data {blob} NOT NULL)"""]


class MediaStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate(schema(db.dialect))

    def put(self, media_id: str, message_id: str, customer_key: str, mime_type: str, data: bytes) -> None:
        with self.db.transaction() as tx:
            tx.execute("""INSERT INTO media (media_id, message_id, customer_key, mime_type, size, sha256, data)
                          VALUES (%(m)s, %(msg)s, %(c)s, %(mime)s, %(size)s, %(sha)s, %(data)s)
                          ON CONFLICT (media_id) DO NOTHING""",
                       {"m": media_id, "msg": message_id, "c": customer_key, "mime": mime_type, "size": len(data),
                        "sha": hashlib.sha256(data).hexdigest(), "data": data})

    def size(self, media_id: str) -> int | None:
        row = self.db.one("SELECT size FROM media WHERE media_id = %(m)s", {"m": media_id})
        return int(row["size"]) if row else None

    def get(self, media_id: str) -> tuple[bytes, str] | None:
        row = self.db.one("SELECT data, mime_type FROM media WHERE media_id = %(m)s", {"m": media_id})
        return (bytes(row["data"]), row["mime_type"] or "application/octet-stream") if row else None


class MediaFetcher:
    """Consumes our own media.received events: downloads and stores each object."""

    def __init__(self, store: MediaStore, client, bus: Bus) -> None:
        self.store, self.client, self.bus = store, client, bus

    async def on_event(self, envelope: Envelope) -> None:
        payload = envelope.payload
        # MediaReceived; MessageReceived too, for an inbox still bound to it (before media.received existed)
        if not isinstance(payload, MediaReceived | MessageReceived) or payload.message.media is None:
            return
        message, media = payload.message, payload.message.media
        size = await asyncio.to_thread(self.store.size, media.id)
        if size is None:  # not yet (a redelivery after storing just publishes again)
            data, mime = await self.client.get_media(media.id)  # transient errors: the bus retries
            await asyncio.to_thread(self.store.put, media.id, message.message_id, message.customer.key,
                                    media.mime_type or mime, data)
            size = len(data)
            log.info("media.stored", media_id=media.id, size=size)
        stored = MediaStored(media_id=media.id, message_id=message.message_id, customer_key=message.customer.key,
                             mime_type=media.mime_type, size=size, sha256=media.sha256)
        await self.bus.publish(new_envelope(stored, producer="ingest", aggregate_id=media.id,
                                            event_id=stable_id("ingest", "media", media.id),
                                            causation_id=envelope.event_id, correlation_id=envelope.correlation_id))


def media_router(store: MediaStore, token: str) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/internal/media/{media_id}")
    def media(media_id: str, authorization: str | None = Header(None)) -> Response:
        if not authorization or not hmac.compare_digest(authorization, f"Bearer {token}"):
            raise HTTPException(401, "internal token required")
        found = store.get(media_id)
        if found is None:
            raise HTTPException(404, "media not stored (yet)")
        data, mime = found
        return Response(data, media_type=mime, headers={"Cache-Control": "private, max-age=3600"})

    return router
