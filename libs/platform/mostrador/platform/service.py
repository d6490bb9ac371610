"""A service is a composition root's unit: built with its dependencies, started and stopped in order.

    build(ctx) registers the service's subscriptions and commands on ctx.bus and returns a Service;
    the runner then starts the bus (topology, consumers) and the services (relays, timers), and on
    shutdown stops the services, drains the bus, and closes the stores.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request, Response

from mostrador.platform.clock import Clock, SystemClock
from mostrador.platform.settings import Settings


@dataclass
class Context:
    settings: Settings
    bus: Any  # mostrador.events.bus.Bus
    clock: Clock = field(default_factory=SystemClock)
    # Shared pieces the composition root may hand over (embedded mode: the sandbox Graph API transport)
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class Service:
    name: str
    routers: list[APIRouter] = field(default_factory=list)
    # (method, path) -> handler of the raw request, served ahead of FastAPI's middleware and routing:
    # for a hot path that needs none of it (the webhook: the stack was a quarter of its CPU, bench B1)
    fast_routes: dict[tuple[str, str], Callable[[Request], Awaitable[Response]]] = field(default_factory=dict)
    on_start: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    checks: list[Callable[[], Awaitable[bool]]] = field(default_factory=list)
    # Anything tests or the composition root may want to reach (the application, views…)
    parts: dict[str, Any] = field(default_factory=dict)

    async def start(self) -> None:
        for hook in self.on_start:
            await hook()

    async def stop(self) -> None:
        """Runs the hooks in the order given: stop the workers first, close the stores last (a store
        closed under a worker thread's running query can crash the process)."""
        for hook in self.on_stop:
            await hook()

    async def ready(self) -> bool:
        for check in self.checks:
            if not await check():
                return False
        return True
