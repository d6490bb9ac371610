"""Events in -> projections (in a worker thread: the database calls are synchronous)."""

from __future__ import annotations

import asyncio

from mostrador.events.envelope import Envelope
from mostrador.events.schemas import chat, scheduler, tickets
from mostrador.panel_api.views import PanelViews


class ProjectionHandlers:
    def __init__(self, views: PanelViews) -> None:
        self.views = views

    async def on_event(self, envelope: Envelope) -> None:
        await asyncio.to_thread(self.apply, envelope)

    def apply(self, envelope: Envelope) -> None:
        payload = envelope.payload
        if isinstance(payload, tickets.TicketOpened | tickets.MessageAttached | tickets.StatusChanged
                      | tickets.DetailsChanged):
            self.views.apply_ticket(payload.ticket)
        elif isinstance(payload, chat.MessageRecorded | chat.MessageUpdated):
            self.views.apply_message_and_conversation(payload.message, payload.conversation)
        elif isinstance(payload, chat.ConversationRead):
            self.views.apply_conversation(payload.conversation)
        elif isinstance(payload, scheduler.WindowClosed):
            self.views.apply_window_closed(payload.customer_key, payload.last_inbound_at, payload.closed_at,
                                           payload.number)
