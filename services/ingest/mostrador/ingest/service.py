"""Composition root of the ingest service: the webhook, and the media fetcher with its store."""

from __future__ import annotations

import asyncio

from mostrador.events.topology import INBOXES
from mostrador.ingest.media import MediaFetcher, MediaStore, media_router
from mostrador.ingest.webhook import webhook_receiver, webhook_router
from mostrador.platform.db import open_database
from mostrador.platform.service import Context, Service
from mostrador.whatsapp.factory import whatsapp_client


def build(ctx: Context) -> Service:
    s = ctx.settings
    receiver = webhook_receiver(ctx.bus, ctx.clock, app_secret=s.whatsapp_app_secret.get_secret_value(),
                                max_body=s.whatsapp_max_body_bytes)
    db = open_database(s, "ingest")
    store = MediaStore(db)
    client = whatsapp_client(s, ctx.extras)
    fetcher = MediaFetcher(store, client, ctx.bus)
    ctx.bus.subscribe("ingest", INBOXES["ingest"].bindings, fetcher.on_event, prefetch=8)

    async def close() -> None:
        await client.aclose()
        await asyncio.to_thread(db.close)

    routers = [webhook_router(s.whatsapp_verify_token.get_secret_value()), media_router(store, s.internal_token)]
    return Service("ingest", routers=routers, fast_routes={("POST", "/webhooks/whatsapp"): receiver},
                   on_stop=[close], parts={"media": store})
