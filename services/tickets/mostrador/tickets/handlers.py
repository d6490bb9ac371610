"""Integration events and commands in -> TicketsApp commands (in a worker thread: the library is sync)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import structlog

from mostrador.events.bus import CommandError
from mostrador.events.envelope import Envelope
from mostrador.events.schemas import bot, ingest, scheduler
from mostrador.platform.esapp import AlreadyProcessed
from mostrador.platform.logs import bind
from mostrador.tickets.application import TicketNotFound, TicketsApp
from mostrador.tickets.domainmodel import InvalidTransition, UnknownStatus

log = structlog.get_logger("tickets")


class Handlers:
    def __init__(self, app: TicketsApp, clock, expiry_hours: float) -> None:
        self.app, self.clock, self.expiry = app, clock, timedelta(hours=expiry_hours)

    async def on_event(self, envelope: Envelope) -> None:
        payload, key = envelope.payload, str(envelope.event_id)
        try:
            await asyncio.to_thread(self._apply, payload, key)
        except AlreadyProcessed:
            log.info("tickets.duplicate_ignored")
        except TicketNotFound as exc:
            log.error("tickets.unknown_ticket", error=str(exc))  # nothing to apply it to; never will be
        except InvalidTransition as exc:
            log.info("tickets.transition_refused", error=str(exc))  # e.g. bot completing a ticket already closed

    def _apply(self, payload: Any, key: str) -> None:
        now = self.clock.now()
        if isinstance(payload, ingest.MessageReceived):
            message = payload.message
            bind(customer=message.customer.key)
            number = self.app.receive_message(key=key, message=message.model_dump(mode="json"))
            bind(ticket=number)
        elif isinstance(payload, bot.IntakeUpdated | bot.IntakeCompleted):
            bind(ticket=payload.number)
            fields = {"type": payload.type, "branch": payload.branch, "topic": payload.topic,
                      "details": payload.details.model_dump(mode="json", exclude_none=True),
                      "missing": getattr(payload, "missing", [])}
            self.app.update_details(key=key, number=payload.number, fields=fields, by={"kind": "bot"}, at=now,
                                    complete=isinstance(payload, bot.IntakeCompleted))
        elif isinstance(payload, bot.IntakeCancelled):
            bind(ticket=payload.number)
            self.app.cancel_by_bot(key=key, number=payload.number, at=now, reason=payload.reason)
        elif isinstance(payload, scheduler.ExpiryDue):
            bind(ticket=payload.number)
            # The scheduler says it is due; a clock a little behind ours must not make it a no-op forever.
            self.app.expire(key=key, number=payload.number, now=max(now, payload.due_at), after=self.expiry)

    # -- commands (request/reply from panel-api) ------------------------------------------------

    async def on_command(self, command: str, body: dict[str, Any]) -> dict[str, Any]:
        if command != "change_status":
            raise CommandError("unknown_command", f"tickets has no command {command!r}", 400)
        return await asyncio.to_thread(self._change_status, body)

    def _change_status(self, body: dict[str, Any]) -> dict[str, Any]:
        from mostrador.tickets.outbound import ticket_state

        number = int(body["number"])
        try:
            ticket = self.app.change_status(key=body["command_id"], number=number, to=body["status"],
                                            by=body["actor"], at=self.clock.now(), reason=body.get("reason"))
        except AlreadyProcessed:
            ticket = self.app.get_ticket(number)
        except TicketNotFound as exc:
            raise CommandError("not_found", str(exc), 404) from None
        except UnknownStatus as exc:
            raise CommandError("unknown_status", str(exc), 422) from None
        except InvalidTransition as exc:
            raise CommandError("invalid_transition", str(exc), 409,
                               {"current": exc.current, "requested": exc.requested}) from None
        return ticket_state(ticket).model_dump(mode="json")
