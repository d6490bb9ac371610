"""Run one service as its own process (distributed mode): RabbitMQ bus, its own PostgreSQL schema,
its HTTP port. uvicorn turns SIGTERM/SIGINT into a graceful lifespan shutdown."""

from __future__ import annotations

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


def run_service(name: str, build: Callable[[Context], Service]) -> None:
    settings = Settings()
    logs.configure(settings.log_level, settings.log_format)
    try:
        settings.check_secrets(webhook_endpoint=name == "ingest")
    except UnsafeSecrets as exc:
        sys.exit(f"{name}: {exc}")
    bus = make_bus(settings, name)
    service = build(Context(settings=settings, bus=bus))
    app = create_app(f"mostrador-{name}", bus, [service])
    structlog.get_logger("runner").info("service.listening", service=name, host=settings.host, port=settings.port)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None, access_log=False,
                            timeout_graceful_shutdown=15)
    # Server.run(), not asyncio.run(serve()): it installs uvloop (Config(loop="auto")); under the default
    # selector loop the socket writes alone were 15 % of the webhook's CPU (bench B1).
    uvicorn.Server(config).run()
