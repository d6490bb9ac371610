"""Composition root of the chat service.

Tests and the embedded mode may tune through ``ctx.extras``: ``whatsapp_transport`` (an httpx
transport to the sandbox/fake Graph API), ``chat_send_grace_seconds`` (how long a send whose result
was lost waits for a status webhook before sending again; default 10 s) and ``chat_resume_template``
(a callable name -> TemplateSpec dict, instead of the bot configuration's).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog

from mostrador.chat.application import ChatApp
from mostrador.chat.handlers import Handlers, lane
from mostrador.chat.outbound import make_translate
from mostrador.chat.sender import Sender
from mostrador.events.relay import OutboxRelay
from mostrador.events.topology import INBOXES
from mostrador.platform.esapp import service_env
from mostrador.platform.service import Context, Service
from mostrador.platform.settings import Settings
from mostrador.whatsapp.factory import whatsapp_client

log = structlog.get_logger("chat")



def resume_template(settings: Settings) -> Callable[[str], dict[str, Any]]:
    """«Retomar contacto» sends the approved template named in the bot's configuration file."""
    try:
        from mostrador.bot.config import load_config
    except ImportError:  # the bot package is not installed here: Meta-approved default, parameter = name
        log.warning("chat.bot_config_missing", fallback="retomar_contacto")
        return lambda name: {"name": "retomar_contacto", "language": "es_AR", "parameters": [name]}
    config = load_config(str(settings.bot_config) if settings.bot_config else None)
    return lambda name: config.resume_spec(name).model_dump(mode="json")


def build(ctx: Context) -> Service:
    s, extras = ctx.settings, ctx.extras
    app = ChatApp(env=service_env(s, "chat"), window_hours=s.chat_window_hours)
    # WHATSAPP_* settings; with extras["whatsapp_transport"], the in-process sandbox/fake Graph API
    client = whatsapp_client(s, extras)
    grace = extras.get("chat_send_grace_seconds", s.chat_send_grace_seconds)
    sender = Sender(app, client, ctx.clock, grace_seconds=grace)
    handlers = Handlers(app, sender, ctx.clock, extras.get("chat_resume_template") or resume_template(s))
    ctx.bus.subscribe("chat", INBOXES["chat"].bindings, handlers.on_event, key=lane, prefetch=s.bus_prefetch)
    # statuses never wait behind the main inbox: a send resolved after a crash depends on them (topology.py)
    ctx.bus.subscribe("chat-statuses", INBOXES["chat-statuses"].bindings, handlers.on_event, key=lane,
                      prefetch=s.bus_prefetch)
    ctx.bus.serve("chat", handlers.on_command)
    # Conversations are the biggest aggregates (~8 KB each): 2,000 kept for the relay, and 1,000 in the
    # application's cache (application.py), hold chat under 150 MB with 10,000 customers (bench B7).
    relay = OutboxRelay(app, make_translate(s.chat_window_hours), ctx.bus, producer="chat", with_state=True,
                        states=2000)

    async def close() -> None:
        await client.aclose()
        await asyncio.to_thread(app.close)

    async def relay_alive() -> bool:
        return relay.running

    return Service("chat", on_start=[relay.start], on_stop=[relay.stop, sender.close, close], checks=[relay_alive],
                   parts={"app": app, "relay": relay, "handlers": handlers, "sender": sender, "client": client})
