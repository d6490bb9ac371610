"""Composition root of the tickets service."""

from __future__ import annotations

import asyncio

from mostrador.events.relay import OutboxRelay
from mostrador.events.topology import INBOXES
from mostrador.platform.esapp import service_env
from mostrador.platform.service import Context, Service
from mostrador.tickets.application import TicketsApp
from mostrador.tickets.handlers import Handlers
from mostrador.tickets.outbound import to_integration


def customer_or_ticket_key(envelope) -> str | None:
    """Order per customer for messages, per ticket for everything else."""
    payload = envelope.payload
    message = getattr(payload, "message", None)
    if message is not None and hasattr(message, "customer"):
        return f"customer:{message.customer.key}"
    number = getattr(payload, "number", None)
    return f"ticket:{number}" if number is not None else None


def build(ctx: Context) -> Service:
    s = ctx.settings
    app = TicketsApp(env=service_env(s, "tickets"))
    handlers = Handlers(app, ctx.clock, s.ticket_expiry_hours)
    ctx.bus.subscribe("tickets", INBOXES["tickets"].bindings, handlers.on_event, key=customer_or_ticket_key,
                      prefetch=s.bus_prefetch)
    ctx.bus.serve("tickets", handlers.on_command)
    relay = OutboxRelay(app, to_integration, ctx.bus, producer="tickets", with_state=True)

    async def close() -> None:
        await asyncio.to_thread(app.close)

    async def relay_alive() -> bool:
        return relay.running

    return Service("tickets", on_start=[relay.start], on_stop=[relay.stop, close], checks=[relay_alive],
                   parts={"app": app, "relay": relay, "handlers": handlers})
