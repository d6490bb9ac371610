"""Test helpers for the bot: a customer talking to a BotApp, and WhatsApp's limits as a check."""

from __future__ import annotations

from typing import Any

from mostrador.bot.application import BotApp
from mostrador.bot.outbound import to_integration
from mostrador.events.envelope import EventPayload
from mostrador.events.schemas.bot import ReplyRequested
from mostrador.events.schemas.common import Customer, OutboundContent
from mostrador.events.schemas.ingest import InboundMessage
from mostrador.events.schemas.tickets import TicketState
from mostrador.platform.clock import FakeClock


class Chat:
    """One ticket's conversation. ``send`` returns the payloads that message produced."""

    def __init__(self, app: BotApp, clock: FakeClock, *, name: str | None = "Lucía Fernández",
                 number: int = 42, ticket_id: str = "ticket-1") -> None:
        self.app, self.clock = app, clock
        self.customer = Customer(key="5491100000001", wa_id="5491100000001", name=name)
        self.number, self.ticket_id, self.status = number, ticket_id, "INCOMPLETO"
        self.sent = 0
        self.read_up_to = 0
        self.outputs: list[EventPayload] = []

    def ticket(self) -> TicketState:
        now = self.clock.now()
        return TicketState(ticket_id=self.ticket_id, number=self.number, version=self.sent + 1,
                           customer=self.customer, type="PEDIDO", status=self.status, opened_at=now,
                           first_message_id=f"wamid.{self.ticket_id}.1", last_message_at=now,
                           last_message_id=f"wamid.{self.ticket_id}.{self.sent}")

    def message(self, text: str | None = None, *, tap: str | None = None, row: str | None = None,
                type: str | None = None, **fields: Any) -> InboundMessage:
        self.sent += 1
        data: dict[str, Any] = {"message_id": f"wamid.{self.ticket_id}.{self.sent}",
                                "phone_number_id": "109876543210987",
                                "customer": self.customer, "timestamp": self.clock.now(), **fields}
        if tap or row:
            data |= {"type": "interactive",
                     "interactive": {"kind": "button_reply" if tap else "list_reply", "id": tap or row}}
        elif text is not None:
            data |= {"type": "text", "text": text}
        else:
            data["type"] = type
        return InboundMessage(**data)

    def send(self, text: str | None = None, **kw: Any) -> list[EventPayload]:
        return self.deliver(self.message(text, **kw))

    def deliver(self, message: InboundMessage, key: str | None = None) -> list[EventPayload]:
        self.clock.advance(seconds=5)
        self.app.handle_message(self.ticket(), message, key=key or f"event-{message.message_id}",
                                now=self.clock.now())
        return self.new_outputs()

    def new_outputs(self) -> list[EventPayload]:
        new: list[EventPayload] = []
        while True:
            items = self.app.notification_log.select(start=self.read_up_to + 1, limit=10)
            if not items:
                break
            for item in items:
                payload = to_integration(self.app.mapper.to_domain_event(item))
                if payload is not None:
                    new.append(payload)
            self.read_up_to = items[-1].id
        self.outputs += new
        return new


def replies(payloads: list[EventPayload]) -> list[OutboundContent]:
    return [p.content for p in payloads if isinstance(p, ReplyRequested)]


def reply(payloads: list[EventPayload]) -> OutboundContent:
    """The one message a turn sent (the bot keeps to one per turn)."""
    contents = replies(payloads)
    assert len(contents) == 1, contents
    return contents[0]


def only(payloads: list[EventPayload], kind: type) -> Any:
    found = [p for p in payloads if isinstance(p, kind)]
    assert len(found) == 1, payloads
    return found[0]


def button_ids(content: OutboundContent) -> list[str]:
    return [b.id for b in content.buttons]


def row_ids(content: OutboundContent) -> list[str]:
    return [r.id for s in content.sections for r in s.rows]


def limit_violations(content: OutboundContent) -> list[str]:
    """WhatsApp's limits (CLOUD-API.md §4.3–4.4) a message breaks; empty when it would be accepted."""
    bad = []
    body = content.text or ""
    if content.kind == "buttons":
        titles = [b.title for b in content.buttons]
        bad += [f"{len(titles)} buttons"] if not 1 <= len(titles) <= 3 else []
        bad += [f"button {t!r} > 20" for t in titles if len(t) > 20]
        bad += ["duplicate button titles"] if len(set(titles)) != len(titles) else []
        bad += [f"body {len(body)} > 1024"] if len(body) > 1024 else []
    if content.kind == "list":
        rows = [r for s in content.sections for r in s.rows]
        bad += [f"{len(rows)} rows"] if not 1 <= len(rows) <= 10 else []
        bad += [f"row {r.title!r} > 24" for r in rows if len(r.title) > 24]
        bad += [f"description {r.description!r} > 72" for r in rows if len(r.description or "") > 72]
        bad += [f"section {s.title!r} > 24" for s in content.sections if len(s.title or "") > 24]
        label = content.list_button or ""
        bad += [f"list button {label!r}"] if not 1 <= len(label) <= 20 else []
        bad += [f"body {len(body)} > 4096"] if len(body) > 4096 else []
    if content.kind in ("text", "location_request"):
        bad += ["empty body"] if not body else []
        bad += [f"body {len(body)} > 4096"] if len(body) > 4096 else []
    bad += ["footer > 60"] if len(content.footer or "") > 60 else []
    return bad
