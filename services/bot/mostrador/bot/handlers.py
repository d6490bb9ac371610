"""tickets.ticket.message_received in -> one bot turn (in a worker thread: the library is sync)."""

from __future__ import annotations

import asyncio

import structlog

from mostrador.bot.application import BotApp
from mostrador.events.envelope import Envelope
from mostrador.events.schemas.tickets import MessageAttached
from mostrador.platform.esapp import AlreadyProcessed
from mostrador.platform.logs import bind

log = structlog.get_logger("bot")


class Handlers:
    def __init__(self, app: BotApp, clock) -> None:
        self.app, self.clock = app, clock

    async def on_event(self, envelope: Envelope) -> None:
        payload = envelope.payload
        if not isinstance(payload, MessageAttached):
            return
        bind(ticket=payload.ticket.number, customer=payload.ticket.customer.key)
        try:
            await asyncio.to_thread(self.app.handle_message, payload.ticket, payload.message,
                                    key=str(envelope.event_id), now=self.clock.now())
        except AlreadyProcessed:
            log.info("bot.duplicate_ignored")


def customer_key(envelope: Envelope) -> str | None:
    """One customer's messages are handled one at a time, in order: a conversation is a sequence."""
    ticket = getattr(envelope.payload, "ticket", None)
    return ticket.customer.key if ticket is not None else None
