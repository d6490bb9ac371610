"""The chat service on the in-memory bus, SQLite in tmp_path and the fake Graph API in-process.

Events go in as envelopes published to the bus (as tickets, the bot, ingest and the scheduler would
publish them); what chat publishes is collected from the same broker. Status webhooks the fake Graph
emits are turned into ``ingest.message.status.v1`` exactly as ingest does (``parse_webhook``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from mostrador.chat.service import build
from mostrador.events.envelope import Envelope, EventPayload, new_envelope
from mostrador.events.memory import InMemoryBroker, InMemoryBus
from mostrador.events.schemas.bot import ReplyRequested
from mostrador.events.schemas.common import Customer, OutboundContent
from mostrador.events.schemas.ingest import InboundMessage, StatusReceived
from mostrador.events.schemas.tickets import (
    MessageAttached,
    StatusChange,
    StatusChanged,
    TicketOpened,
    TicketState,
)
from mostrador.platform.clock import FakeClock
from mostrador.platform.service import Context
from mostrador.platform.settings import Settings
from mostrador.whatsapp.fakegraph import create_fake_graph
from mostrador.whatsapp.fakegraph_payloads import PHONE_NUMBER_ID, encode
from mostrador.whatsapp.webhook import parse_webhook
from tests.polling import until

T0 = datetime.now(UTC).replace(microsecond=0)  # the fake Graph stamps statuses with the wall clock
LUCIA = Customer(key="5491100000001", wa_id="5491100000001", name="Lucía Fernández")
OPERATOR = {"kind": "operator", "id": "u1", "name": "Ana"}



@dataclass
class ChatRig:
    bus: InMemoryBus
    clock: FakeClock
    service: Any
    graph: Any
    published: list[Envelope] = field(default_factory=list)
    forwarded: int = 0  # fake Graph webhooks already turned into status events
    _wamids: itertools.count = field(default_factory=lambda: itertools.count(1))
    tickets: dict[int, TicketState] = field(default_factory=dict)

    @property
    def app(self):
        return self.service.parts["app"]

    @property
    def fake(self):
        return self.graph.state.fake

    async def collect(self, envelope: Envelope) -> None:
        self.published.append(envelope)

    # -- what chat published -------------------------------------------------------------------

    def events(self, type_: str) -> list[Envelope]:
        return [e for e in self.published if e.type == type_]

    def latest(self, message_id: str):
        """The newest published state of one message (by version)."""
        states = [e.payload.message for e in self.published if hasattr(e.payload, "message")
                  and e.payload.message.message_id == message_id]
        return max(states, key=lambda m: m.version) if states else None

    async def wait_status(self, message_id: str, status: str, timeout: float = 5.0):
        return await until(lambda: (m := self.latest(message_id)) is not None and m.status == status and m,
                           timeout, f"{message_id} {status}")

    async def quiet(self, timeout: float = 5.0) -> None:
        """Until chat has nothing left to do: its queue empty, nothing in flight, the relay caught up."""
        queue = self.bus.broker.queues["chat"]

        def idle() -> bool:
            return (not queue.ready and not self.bus._inflight
                    and self.service.parts["relay"].position >= self.app.recorder.max_notification_id())

        await until(idle, timeout, "chat to be idle")
        await asyncio.sleep(0)
        await until(idle, timeout, "chat to be idle")

    # -- what others publish -------------------------------------------------------------------

    async def publish(self, payload: EventPayload, producer: str, aggregate_id: str = "x", **kw: Any) -> Envelope:
        envelope = new_envelope(payload, producer=producer, aggregate_id=aggregate_id, **kw)
        await self.bus.publish(envelope)
        return envelope

    def ticket(self, number: int, status: str, customer: Customer = LUCIA) -> TicketState:
        previous = self.tickets.get(number)
        state = TicketState(
            ticket_id=f"ticket-{number}", number=number, version=(previous.version + 1) if previous else 1,
            customer=customer, type="PEDIDO", status=status, opened_at=T0, first_message_id="wamid.first",
            last_message_at=T0, last_message_id="wamid.first")
        self.tickets[number] = state
        return state

    async def customer_writes(self, text: str = "hola", *, number: int = 1, status: str = "INCOMPLETO",
                              at: datetime | None = None, customer: Customer = LUCIA) -> InboundMessage:
        """Like tickets would: opened (the first time), then message_received with the whole message."""
        if number not in self.tickets:
            await self.publish(TicketOpened(ticket=self.ticket(number, status, customer)), "tickets")
        message = InboundMessage(message_id=f"wamid.in{next(self._wamids)}", phone_number_id=PHONE_NUMBER_ID,
                                 customer=customer, timestamp=at or self.clock.now(), type="text", text=text)
        await self.publish(MessageAttached(ticket=self.ticket(number, status, customer), message=message), "tickets")
        return message

    async def ticket_status(self, number: int, status: str) -> None:
        before = self.tickets[number].status
        state = self.ticket(number, status)
        change = StatusChange(from_status=before, to_status=status, at=self.clock.now(), by=OPERATOR)
        await self.publish(StatusChanged(ticket=state, change=change), "tickets")

    async def bot_reply(self, text: str = "¡Hola! ¿Qué querés pedir?", number: int = 1) -> Envelope:
        payload = ReplyRequested(ticket_id=f"ticket-{number}", number=number, customer=LUCIA,
                                 content=OutboundContent(kind="text", text=text))
        return await self.publish(payload, "bot")

    async def status(self, wamid: str, status: str, *, callback: str | None = None, errors=(), at=None) -> None:
        await self.publish(StatusReceived(message_id=wamid, phone_number_id=PHONE_NUMBER_ID, status=status,
                                          timestamp=at or self.clock.now(), recipient=LUCIA, errors=list(errors),
                                          callback_data=callback), "ingest")

    async def forward_statuses(self) -> int:
        """What ingest does with the fake's status webhooks: parse them, publish each status."""
        hooks = [h for h in self.fake.webhooks if h["kind"] == "status"][self.forwarded:]
        self.forwarded += len(hooks)
        for hook in hooks:
            for status in parse_webhook(encode(hook["payload"])).statuses:
                await self.publish(status, "ingest")
        return len(hooks)

    async def command(self, name: str, **body: Any) -> dict[str, Any]:
        body.setdefault("actor", OPERATOR)
        body.setdefault("command_id", f"cmd-{name}-{len(self.published)}-{next(self._wamids)}")
        return await self.bus.request("chat", name, body)

    def sends(self, key: str) -> list[dict[str, Any]]:
        """Every send request the fake Graph saw for our message id (accepted or refused)."""
        return [r for r in self.fake.requests if r.get("key") == key and r.get("type") != "read"]


class LossyLink(httpx.AsyncBaseTransport):
    """Chat's link to the Graph API, losing the answer of the first ``lose`` sends: a read timeout
    after the request reached WhatsApp (``delivered=True``) or before it got there. Notes the time
    of every send it saw."""

    def __init__(self, inner: httpx.AsyncBaseTransport, *, lose: int = 1, delivered: bool = True) -> None:
        self.inner, self.lose, self.delivered = inner, lose, delivered
        self.sends: list[tuple[float, dict[str, Any]]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and b"biz_opaque_callback_data" in request.content:
            self.sends.append((asyncio.get_running_loop().time(), json.loads(request.content)))
            if self.lose > 0:
                self.lose -= 1
                if self.delivered:
                    await (await self.inner.handle_async_request(request)).aclose()
                raise httpx.ReadTimeout("the answer never came", request=request)
        return await self.inner.handle_async_request(request)


async def start_rig(tmp_path, *, grace: float = 0.3, link=None) -> tuple[ChatRig, Any]:
    """``link`` wraps the transport to the fake Graph (e.g. ``lambda inner: LossyLink(inner)``)."""
    graph = create_fake_graph(app_secret="secret", webhook_url=None, status_delays=(0.01, 0.01))
    settings = Settings(data_dir=tmp_path, whatsapp_graph_base_url="http://graph.test/v25.0",
                        whatsapp_phone_number_id=PHONE_NUMBER_ID, whatsapp_access_token=None, bot_config=None)
    bus = InMemoryBus(InMemoryBroker(), retry_backoff=0.01)
    clock = FakeClock(T0 + timedelta(seconds=1))
    transport = httpx.ASGITransport(graph)
    ctx = Context(settings=settings, bus=bus, clock=clock,
                  extras={"whatsapp_transport": link(transport) if link else transport,
                          "chat_send_grace_seconds": grace})
    service = build(ctx)
    rig = ChatRig(bus, clock, service, graph)
    bus.subscribe("test-collector", ["chat.#"], rig.collect)
    return rig, service


@pytest.fixture
async def chat(tmp_path):
    rig, service = await start_rig(tmp_path)
    await rig.bus.start()
    await service.start()
    yield rig
    await rig.fake.settle()
    await rig.bus.stop(drain_timeout=2)
    await service.stop()
