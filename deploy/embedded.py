"""`make run`: every service in one process, one HTTP port, SQLite under DATA_DIR, the in-memory bus
(journaled to DATA_DIR/bus.db so a crash loses nothing), and — without WhatsApp credentials — the
sandbox: a fake Graph API and the customer simulator at /simulator.

The services are the same code the distributed mode runs; only this composition root differs.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from dataclasses import dataclass

import httpx
import structlog
import uvicorn
from fastapi import FastAPI

from mostrador.events.memory import InMemoryBroker, InMemoryBus
from mostrador.platform import logs
from mostrador.platform.clock import Clock, SystemClock
from mostrador.platform.http import create_app
from mostrador.platform.service import Context, Service
from mostrador.platform.settings import Settings, UnsafeSecrets

# Start order matters only for readability: consumers are all subscribed before the bus starts.
SERVICE_MODULES = ["ingest", "tickets", "bot", "chat", "scheduler", "panel_api"]
SANDBOX_PREFIX = "/sandbox/graph"


@dataclass
class EmbeddedSystem:
    app: FastAPI
    bus: InMemoryBus
    services: dict[str, Service]
    settings: Settings
    fake_graph: FastAPI | None = None  # the sandbox Graph API (no WhatsApp credentials)


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


class LateASGI:
    """An ASGI app that forwards to one set later (the sandbox and the main app refer to each other)."""

    def __init__(self) -> None:
        self.target = None

    async def __call__(self, scope, receive, send):
        await self.target(scope, receive, send)


def sandbox(settings: Settings) -> tuple[FastAPI, LateASGI]:
    """The fake Graph API, delivering its signed webhooks (customer messages from the simulator,
    delivery statuses) to our own /webhooks/whatsapp in-process."""
    from mostrador.whatsapp.factory import SANDBOX_TOKEN
    from mostrador.whatsapp.fakegraph import create_fake_graph

    main_app = LateASGI()
    fake = create_fake_graph(app_secret=settings.whatsapp_app_secret.get_secret_value(),
                             webhook_url="http://embedded/webhooks/whatsapp", access_token=SANDBOX_TOKEN,
                             webhook_transport=httpx.ASGITransport(app=main_app), status_delays=(0.3, 0.8))
    return fake, main_app


def in_process_media(store):
    async def fetch(media_id: str):
        return await asyncio.to_thread(store.get, media_id)

    return fetch


def build_embedded(settings: Settings, *, clock: Clock | None = None, journal: bool = True,
                   freeze_heap: bool = False) -> EmbeddedSystem:
    """``freeze_heap``: the process's own system (main, the benchmark), see platform.http."""
    settings.check_secrets()  # real credentials need real secrets (raises UnsafeSecrets)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    broker = InMemoryBroker(journal=str(settings.data_dir / "bus.db") if journal else None)
    bus = InMemoryBus(broker, delivery_limit=settings.bus_delivery_limit)
    ctx = Context(settings=settings, bus=bus, clock=clock or SystemClock())
    fake = None
    if settings.sandbox:
        fake, main_app = sandbox(settings)
        ctx.extras["whatsapp_transport"] = httpx.ASGITransport(app=fake)
    services = []
    for build in available_services():
        services.append(service := build(ctx))
        if service.name == "ingest":  # the panel shows stored media straight from ingest's store
            ctx.extras["panel_media_fetch"] = in_process_media(service.parts["media"])
    app = create_app("Mostrador", bus, services, freeze_heap=freeze_heap)
    if fake is not None:
        from mostrador.whatsapp.simulator import simulator_router
        main_app.target = app
        app.mount(SANDBOX_PREFIX, fake)
        bot = next((s for s in services if s.name == "bot"), None)
        business = bot.parts["config"].business_name if bot else "Mostrador"
        app.include_router(simulator_router(fake, api_prefix=SANDBOX_PREFIX, business_name=business))
    return EmbeddedSystem(app=app, bus=bus, services={s.name: s for s in services}, settings=settings,
                          fake_graph=fake)


def main() -> None:
    settings = Settings()
    logs.configure(settings.log_level, settings.log_format)
    try:
        system = build_embedded(settings, freeze_heap=True)
    except UnsafeSecrets as exc:
        sys.exit(f"mostrador: {exc}")
    url = f"http://{settings.host}:{settings.port}"
    from mostrador.panel_api.service import first_admin_notice
    notice = first_admin_notice(system.services["panel-api"])
    login = notice or (f"\n  Log in as {settings.admin_username}." if settings.admin_username
                       else "\n  Log in with your panel user.")
    sim = f"  ·  customer simulator {url}/simulator" if system.fake_graph is not None else ""
    print(f"\n  Mostrador is running: panel {url}/{sim}\n  data in {settings.data_dir.resolve()}{login}\n",
          flush=True)
    structlog.get_logger("embedded").info("embedded.listening", url=url)
    config = uvicorn.Config(system.app, host=settings.host, port=settings.port, log_config=None, access_log=False,
                            timeout_graceful_shutdown=10)
    uvicorn.Server(config).run()  # with uvloop (asyncio.run(serve()) would not install it)


if __name__ == "__main__":
    main()
