"""Run one service as its own process (distributed mode): RabbitMQ bus, its own PostgreSQL schema,
its HTTP port. uvicorn turns SIGTERM/SIGINT into a graceful lifespan shutdown."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable

import structlog
import uvicorn

from mostrador.platform import logs
from mostrador.platform.http import create_app
from mostrador.platform.service import Context, Service
from mostrador.platform.settings import Settings, UnsafeSecrets


def make_bus(settings: Settings, name: str):
    from mostrador.events.rabbit import RabbitBus

    if not settings.amqp_url:
        sys.exit(f"{name}: AMQP_URL is required in distributed mode (use `make run` for the all-in-one mode)")
    return RabbitBus(settings.amqp_url, name=name, namespace=settings.bus_namespace,
                     delivery_limit=settings.bus_delivery_limit, settle_seconds=settings.bus_topology_settle_seconds)


def run_service(name: str, build: Callable[[Context], Service], *, several_processes: bool = False) -> None:
    """``several_processes``: the service may run as WORKERS processes on one port (uvicorn's
    supervisor), because nothing in it assumes it is alone (panel-api)."""
    settings = Settings()
    logs.configure(settings.log_level, settings.log_format)
    try:
        settings.check_secrets(webhook_endpoint=name == "ingest")
    except UnsafeSecrets as exc:
        sys.exit(f"{name}: {exc}")
    if settings.workers > 1 and not several_processes:
        sys.exit(f"{name}: WORKERS={settings.workers}: this service runs as one process (scale panel-api only)")
    structlog.get_logger("runner").info("service.listening", service=name, host=settings.host, port=settings.port,
                                        workers=settings.workers)
    if settings.workers > 1:
        # Each worker is a fresh interpreter (spawn) that builds the service itself: worker_app below.
        os.environ[_WORKER_SERVICE] = f"{name}={build.__module__}:{build.__qualname__}"
        uvicorn.run(f"{__name__}:worker_app", factory=True, workers=settings.workers, host=settings.host,
                    port=settings.port, log_config=None, access_log=False, timeout_graceful_shutdown=15)
        return
    config = uvicorn.Config(_app(name, build, settings), host=settings.host, port=settings.port, log_config=None,
                            access_log=False, timeout_graceful_shutdown=15)
    # Server.run(), not asyncio.run(serve()): it installs uvloop (Config(loop="auto")); under the default
    # selector loop the socket writes alone were 15 % of the webhook's CPU (bench B1).
    uvicorn.Server(config).run()


_WORKER_SERVICE = "MOSTRADOR_WORKER_SERVICE"  # "name=module:function", from run_service to its workers


def _app(name: str, build: Callable[[Context], Service], settings: Settings):
    bus = make_bus(settings, name)
    service = build(Context(settings=settings, bus=bus))
    return create_app(f"mostrador-{name}", bus, [service], freeze_heap=True)


def worker_app():
    """uvicorn's factory in each worker process: the service named by run_service, built anew."""
    settings = Settings()
    logs.configure(settings.log_level, settings.log_format)
    name, _, target = os.environ[_WORKER_SERVICE].partition("=")
    module, _, function = target.partition(":")
    return _app(name, getattr(importlib.import_module(module), function), settings)
