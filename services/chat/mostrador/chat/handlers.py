"""Integration events and panel commands in -> ChatApp (in a worker thread: the library is sync)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import ValidationError

from mostrador.chat.application import ChatApp
from mostrador.chat.domainmodel import Conversation, Refused
from mostrador.chat.outbound import conversation_state, message_state
from mostrador.chat.sender import Sender
from mostrador.chat.window import closes_at
from mostrador.events.bus import CommandError
from mostrador.events.commands import GetWindow, MarkRead, Resume, RetrySend, SendText
from mostrador.events.envelope import Envelope, stable_id
from mostrador.events.schemas import bot, chat, ingest, scheduler, tickets
from mostrador.platform.esapp import AlreadyProcessed

log = structlog.get_logger("chat")

TICKET_EVENTS = (tickets.TicketOpened, tickets.MessageAttached, tickets.StatusChanged, tickets.DetailsChanged)
# The sender's work: SendRequested; and, on a broker whose chat inbox still has the bindings of before
# it existed, the message events themselves (a pending outbound one is sent, the rest ignored).
SENDS = (chat.SendRequested, chat.MessageRecorded, chat.MessageUpdated)


def customer_key_of(payload: Any) -> str | None:
    if isinstance(payload, TICKET_EVENTS):
        return payload.ticket.customer.key
    if isinstance(payload, bot.ReplyRequested):
        return payload.customer.key
    if isinstance(payload, ingest.StatusReceived):
        return payload.recipient.key
    if isinstance(payload, chat.MessageRecorded | chat.MessageUpdated):
        return payload.message.customer_key
    return getattr(payload, "customer_key", None)  # SendRequested, MediaStored, WindowClosed


def lane(envelope: Envelope) -> str | None:
    """One at a time per customer; sends in their own lane, so a send waiting out its grace period
    never blocks the very status webhook it is waiting for."""
    key = customer_key_of(envelope.payload)
    if key is None:
        return None
    return f"send:{key}" if isinstance(envelope.payload, SENDS) else f"customer:{key}"


@dataclass(frozen=True)
class Done:
    """A command's answer, and what to do at WhatsApp once it is saved."""

    result: dict[str, Any]
    mark_read: str | None = None  # the customer's message to give blue ticks
    send: tuple[Conversation, str] | None = None  # an outbound message now pending: send it now


def outbound_id(envelope: Envelope) -> str:
    """The id of the message a bot reply request becomes."""
    return str(stable_id("chat", "out", envelope.event_id))


def ticket_dict(t: tickets.TicketState) -> dict[str, Any]:
    return {"ticket_id": t.ticket_id, "number": t.number, "status": t.status, "version": t.version,
            "name": t.details.name or t.customer.name}


class Handlers:
    def __init__(self, app: ChatApp, sender: Sender, clock: Any,
                 template_for: Callable[[str], dict[str, Any]]) -> None:
        self.app, self.sender, self.clock, self.template_for = app, sender, clock, template_for

    # -- events --------------------------------------------------------------------------------

    async def on_event(self, envelope: Envelope) -> None:
        payload = envelope.payload
        if isinstance(payload, chat.SendRequested):
            await self.sender.send(payload.customer_key, payload.message_id)
            return
        if isinstance(payload, chat.MessageRecorded | chat.MessageUpdated):
            message = payload.message
            if message.direction == "out" and message.status == "pending":
                await self.sender.send(message.customer_key, message.message_id)
            return
        try:
            conv = await asyncio.to_thread(self._apply, envelope)
        except AlreadyProcessed:
            log.info("chat.duplicate_ignored")
            conv = None
        if isinstance(payload, bot.ReplyRequested) and conv is not None:
            self.sender.send_soon(conv, outbound_id(envelope))
        if isinstance(payload, ingest.StatusReceived):  # wake a send waiting for exactly this report
            self.sender.notify((conv.wamids.get(payload.message_id) if conv else None) or payload.callback_data)

    def _apply(self, envelope: Envelope) -> Conversation | None:
        payload, key = envelope.payload, str(envelope.event_id)
        if isinstance(payload, tickets.MessageAttached):
            ticket, message = ticket_dict(payload.ticket), payload.message.model_dump(mode="json")
            message_id = str(stable_id("chat", "in", payload.message.message_id))
            return self.app.change(key, payload.ticket.customer.model_dump(mode="json"),
                                   lambda c: c.record_inbound(message_id, message, ticket), ticket=ticket)
        if isinstance(payload, TICKET_EVENTS):
            ticket = ticket_dict(payload.ticket)
            return self.app.change(key, payload.ticket.customer.model_dump(mode="json"),
                                   lambda c: c.note_ticket(ticket), ticket=ticket)
        if isinstance(payload, bot.ReplyRequested):
            message_id = outbound_id(envelope)
            content = payload.content.model_dump(mode="json")
            return self.app.change(key, payload.customer.model_dump(mode="json"), lambda c: c.request_outbound(
                message_id, author={"kind": "bot"}, content=content, at=envelope.occurred_at,
                ticket_id=payload.ticket_id, number=payload.number))
        if isinstance(payload, ingest.StatusReceived):
            errors = [e.model_dump(mode="json") for e in payload.errors]
            return self.app.change(key, payload.recipient.model_dump(mode="json"), lambda c: c.apply_status(
                payload.message_id, payload.status, payload.timestamp, errors, payload.callback_data), create=False)
        if isinstance(payload, ingest.MediaStored):  # may come before the message itself: then it waits in the aggregate
            return self.app.change(key, {"key": payload.customer_key},
                                   lambda c: c.media_stored(payload.message_id, payload.media_id))
        if isinstance(payload, scheduler.WindowClosed):
            return self.app.change(key, {"key": payload.customer_key},
                                   lambda c: c.close_window(payload.last_inbound_at, payload.closed_at), create=False)
        return None

    # -- commands (request/reply from panel-api) -----------------------------------------------

    async def on_command(self, command: str, body: dict[str, Any]) -> dict[str, Any]:
        handler = {"send_text": self._send_text, "resume": self._resume, "mark_read": self._mark_read,
                   "retry": self._retry, "window": self._window}.get(command)
        if handler is None:
            raise CommandError("unknown_command", f"chat has no command {command!r}", 400)
        try:
            done = await asyncio.to_thread(handler, body)
        except Refused as exc:
            raise CommandError(exc.code, exc.message, exc.status) from None
        except ValidationError as exc:
            raise CommandError("invalid_command", str(exc), 422) from None
        if done.mark_read:
            self.sender.mark_read_later(done.mark_read)
        if done.send:
            self.sender.send_soon(*done.send)
        return done.result

    def _send_text(self, body: dict[str, Any]) -> Done:
        cmd = SendText.model_validate(body)
        conv = self.app.send_text(cmd.command_id, cmd.number, cmd.text, cmd.actor.model_dump(mode="json"),
                                  self.clock.now())
        return Done(message_state(conv, cmd.command_id).model_dump(mode="json"), send=(conv, cmd.command_id))

    def _resume(self, body: dict[str, Any]) -> Done:
        cmd = Resume.model_validate(body)
        conv = self.app.resume(cmd.command_id, cmd.number, self.template_for, cmd.actor.model_dump(mode="json"),
                               self.clock.now())
        return Done(message_state(conv, cmd.command_id).model_dump(mode="json"), send=(conv, cmd.command_id))

    def _retry(self, body: dict[str, Any]) -> Done:
        cmd = RetrySend.model_validate(body)
        conv = self.app.retry(cmd.command_id, cmd.number, cmd.message_id, cmd.actor.model_dump(mode="json"),
                              self.clock.now())
        return Done(message_state(conv, cmd.message_id).model_dump(mode="json"), send=(conv, cmd.message_id))

    def _mark_read(self, body: dict[str, Any]) -> Done:
        cmd = MarkRead.model_validate(body)
        conv, wamid = self.app.mark_read(cmd.command_id, cmd.number, cmd.actor.model_dump(mode="json"),
                                         self.clock.now())
        return Done(conversation_state(conv, self.app.window_hours).model_dump(mode="json"), mark_read=wamid)

    def _window(self, body: dict[str, Any]) -> Done:
        cmd = GetWindow.model_validate(body)
        _, conv = self.app.by_number(cmd.number)
        now, hours = self.clock.now(), self.app.window_hours
        end = closes_at(conv.last_inbound_at, hours, conv.closed_for, conv.closed_at)
        refusal = conv.free_text_refusal(cmd.number, now, hours)
        return Done({"open": conv.window_open(now, hours), "closes_at": end.isoformat() if end else None,
                     "ticket_status": (conv.ticket or {}).get("status"),
                     # additive: why the chat line is disabled, so the panel can say it (never fail silently)
                     "can_send_text": refusal is None,
                     "reason": {"code": refusal[0], "message": refusal[1]} if refusal else None})
