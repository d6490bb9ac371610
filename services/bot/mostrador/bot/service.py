"""Composition root of the bot service."""

from __future__ import annotations

import asyncio

from mostrador.bot.application import BotApp
from mostrador.bot.config import load_config
from mostrador.bot.handlers import Handlers, customer_key
from mostrador.bot.outbound import to_integration
from mostrador.events.relay import OutboxRelay
from mostrador.events.topology import INBOXES
from mostrador.platform.esapp import service_env
from mostrador.platform.service import Context, Service


def build(ctx: Context) -> Service:
    s = ctx.settings
    config = load_config(str(s.bot_config) if s.bot_config else None)
    app = BotApp(env=service_env(s, "bot"), config=config)
    handlers = Handlers(app, ctx.clock)
    ctx.bus.subscribe("bot", INBOXES["bot"].bindings, handlers.on_event, key=customer_key, prefetch=s.bus_prefetch)
    relay = OutboxRelay(app, lambda event, _state: to_integration(event), ctx.bus, producer="bot")

    async def close() -> None:
        await asyncio.to_thread(app.close)

    async def relay_alive() -> bool:
        return relay.running

    return Service("bot", on_start=[relay.start], on_stop=[relay.stop, close], checks=[relay_alive],
                   parts={"app": app, "relay": relay, "config": config})
