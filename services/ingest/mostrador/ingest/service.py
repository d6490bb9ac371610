"""Composition root of the ingest service: the webhook. (The media fetcher joins it later.)"""

from __future__ import annotations

from mostrador.ingest.webhook import webhook_router
from mostrador.platform.service import Context, Service


def build(ctx: Context) -> Service:
    s = ctx.settings
    router = webhook_router(ctx.bus, ctx.clock, app_secret=s.whatsapp_app_secret.get_secret_value(),
                            verify_token=s.whatsapp_verify_token.get_secret_value(),
                            max_body=s.whatsapp_max_body_bytes)
    return Service("ingest", routers=[router])
