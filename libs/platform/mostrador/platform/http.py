"""The HTTP face every service has: its routers plus /healthz, /readyz and Prometheus /metrics,
with a lifespan that starts and stops the bus and the services in the right order."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from mostrador.platform.service import Service

log = structlog.get_logger("http")


async def start_all(bus, services: Sequence[Service]) -> None:
    await bus.start()
    for service in services:
        await service.start()
        log.info("service.started", service=service.name)


async def stop_all(bus, services: Sequence[Service]) -> None:
    """Drain the consumers first (their handlers still need the stores), then stop the services
    (relays, timers, stores), then close the bus."""
    await bus.drain()
    for service in reversed(services):
        try:
            await service.stop()
        except Exception:
            log.exception("service.stop_failed", service=service.name)
    await bus.close()
    log.info("services.stopped")


def create_app(title: str, bus, services: Sequence[Service], *, docs: bool = True,
               manage_lifecycle: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if manage_lifecycle:
            await start_all(bus, services)
        app.state.started = True
        try:
            yield
        finally:
            app.state.started = False
            if manage_lifecycle:
                await stop_all(bus, services)

    app = FastAPI(title=title, lifespan=lifespan, docs_url="/docs" if docs else None, redoc_url=None)
    app.state.started = False
    app.state.bus, app.state.services = bus, {s.name: s for s in services}

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        checks = {"started": bool(app.state.started), "bus": await bus.is_healthy()}
        for service in services:
            try:
                checks[service.name] = await asyncio.wait_for(service.ready(), 2.0)
            except Exception:
                checks[service.name] = False
        ok = all(checks.values())
        return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for service in services:
        for router in service.routers:
            app.include_router(router)
    return app
