"""Composition root of the scheduler: deadlines from tickets' events, and the timer that fires them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from mostrador.events.envelope import Envelope
from mostrador.events.topology import INBOXES
from mostrador.platform.db import open_database
from mostrador.platform.service import Context, Service
from mostrador.scheduler.deadlines import Deadlines
from mostrador.scheduler.timer import Timer


def build(ctx: Context) -> Service:
    s = ctx.settings
    db = open_database(s, "scheduler")
    deadlines = Deadlines(db, expiry=timedelta(hours=s.ticket_expiry_hours), window=timedelta(hours=s.chat_window_hours))
    timer = Timer(deadlines, ctx.bus, ctx.clock, poll_seconds=s.scheduler_poll_seconds)

    async def on_event(envelope: Envelope) -> None:
        ticket = getattr(envelope.payload, "ticket", None)
        if ticket is not None:
            await asyncio.to_thread(deadlines.track, ticket)

    ctx.bus.subscribe("scheduler", INBOXES["scheduler"].bindings, on_event, prefetch=s.bus_prefetch)

    async def close() -> None:
        await asyncio.to_thread(db.close)

    return Service("scheduler", on_start=[timer.start], on_stop=[timer.stop, close], checks=[timer.alive],
                   parts={"deadlines": deadlines, "timer": timer})
