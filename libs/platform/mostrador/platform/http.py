"""The HTTP face every service has: its routers plus /healthz, /readyz and Prometheus /metrics,
with a lifespan that starts and stops the bus and the services in the right order."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Mapping, Sequence
from contextlib import asynccontextmanager
from types import MappingProxyType

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
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


class App(FastAPI):
    """FastAPI, plus the services' fast routes answered before its middleware stack and routing."""

    fast_routes: Mapping = MappingProxyType({})  # create_app gives each app its own

    async def __call__(self, scope, receive, send) -> None:
        handler = self.fast_routes.get((scope.get("method"), scope.get("path"))) if scope["type"] == "http" else None
        if handler is None:
            await super().__call__(scope, receive, send)
            return
        try:
            response = await handler(Request(scope, receive))
        except Exception:  # what FastAPI's ServerErrorMiddleware would answer
            log.exception("http.unhandled", path=scope["path"])
            response = PlainTextResponse("Internal Server Error", status_code=500)
        await response(scope, receive, send)


def freeze_startup_objects() -> None:
    """Move everything alive after start-up out of the collector's sight: without it each full
    collection walked the whole heap of imports and models — 55 ms pauses every second under load,
    the p99 of bench B1 — though none of it ever becomes garbage. (Should some of it die in a cycle
    later, it stays: a bounded cost, paid once.)"""
    gc.collect()
    gc.freeze()


def create_app(title: str, bus, services: Sequence[Service], *, docs: bool = True,
               manage_lifecycle: bool = True, freeze_heap: bool = False) -> FastAPI:
    """``freeze_heap``: for a process's one app (the runner, the embedded mode), never in tests, where
    frozen apps would outlive their test."""
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if manage_lifecycle:
            await start_all(bus, services)
        if freeze_heap:
            freeze_startup_objects()
        app.state.started = True
        try:
            yield
        finally:
            app.state.started = False
            if manage_lifecycle:
                await stop_all(bus, services)

    app = App(title=title, lifespan=lifespan, docs_url="/docs" if docs else None, redoc_url=None)
    app.fast_routes = {key: handler for s in services for key, handler in s.fast_routes.items()}
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
