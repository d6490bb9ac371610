"""`make run`: every service in one process, one HTTP port, SQLite under DATA_DIR, the in-memory bus
(journaled to DATA_DIR/bus.db so a crash loses nothing), and — without WhatsApp credentials — the
sandbox: a fake Graph API and the customer simulator at /simulator.

The services are the same code the distributed mode runs; only this composition root differs.
"""

from __future__ import annotations

import asyncio
import importlib
from dataclasses import dataclass

import structlog
import uvicorn
from fastapi import FastAPI

from mostrador.events.memory import InMemoryBroker, InMemoryBus
from mostrador.platform import logs
from mostrador.platform.clock import Clock, SystemClock
from mostrador.platform.http import create_app
from mostrador.platform.service import Context, Service
from mostrador.platform.settings import Settings

# Start order matters only for readability: consumers are all subscribed before the bus starts.
SERVICE_MODULES = ["ingest", "tickets", "bot", "chat", "scheduler", "panel_api"]


@dataclass
class EmbeddedSystem:
    app: FastAPI
    bus: InMemoryBus
    services: dict[str, Service]
    settings: Settings


def available_services() -> list:
    builders = []
    for name in SERVICE_MODULES:
        try:
            module = importlib.import_module(f"mostrador.{name}.service")
        except ModuleNotFoundError as exc:
            if exc.name != f"mostrador.{name}.service":
                raise
            continue
        builders.append(module.build)
    return builders


def build_embedded(settings: Settings, *, clock: Clock | None = None, journal: bool = True) -> EmbeddedSystem:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    broker = InMemoryBroker(journal=str(settings.data_dir / "bus.db") if journal else None)
    bus = InMemoryBus(broker, delivery_limit=settings.bus_delivery_limit)
    ctx = Context(settings=settings, bus=bus, clock=clock or SystemClock())
    services = [build(ctx) for build in available_services()]
    app = create_app("Mostrador", bus, services)
    return EmbeddedSystem(app=app, bus=bus, services={s.name: s for s in services}, settings=settings)


def main() -> None:
    settings = Settings()
    logs.configure(settings.log_level, settings.log_format)
    system = build_embedded(settings)
    url = f"http://{settings.host}:{settings.port}"
    print(f"\n  Mostrador is running: panel {url}/  ·  simulator {url}/simulator  ·  data in {settings.data_dir}\n",
          flush=True)
    structlog.get_logger("embedded").info("embedded.listening", url=url)
    config = uvicorn.Config(system.app, host=settings.host, port=settings.port, log_config=None, access_log=False,
                            timeout_graceful_shutdown=10)
    asyncio.run(uvicorn.Server(config).serve())


if __name__ == "__main__":
    main()
