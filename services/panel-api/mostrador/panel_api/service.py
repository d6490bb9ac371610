"""Composition root of panel-api: projections fed by the bus, the API and the panel UI."""

from __future__ import annotations

import asyncio

from mostrador.events.topology import INBOXES
from mostrador.panel_api.api import api_router
from mostrador.panel_api.handlers import ProjectionHandlers
from mostrador.panel_api.views import PanelViews
from mostrador.platform.db import open_database
from mostrador.platform.service import Context, Service


def build(ctx: Context) -> Service:
    db = open_database(ctx.settings, "panel-api")
    views = PanelViews(db)
    handlers = ProjectionHandlers(views)
    ctx.bus.subscribe("panel-api", INBOXES["panel-api"].bindings, handlers.on_event, prefetch=ctx.settings.bus_prefetch)

    async def close() -> None:
        await asyncio.to_thread(db.close)

    return Service("panel-api", routers=[api_router(views)], on_stop=[close], parts={"views": views, "db": db})
