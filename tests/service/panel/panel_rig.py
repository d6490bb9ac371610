"""panel-api on an InMemoryBus + SQLite: projections fed by real tickets.*/chat.* envelopes, and the
command side (tickets, chat) played by handlers each test programs."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from mostrador.events.bus import CommandError
from mostrador.events.envelope import new_envelope
from mostrador.events.memory import InMemoryBus
from mostrador.events.schemas.chat import ConversationState, MessageRecorded, MessageState
from mostrador.events.schemas.common import Actor, Customer, OutboundContent
from mostrador.events.schemas.ingest import InboundMessage
from mostrador.events.schemas.tickets import StatusChange, TicketDetails, TicketOpened, TicketState
from mostrador.panel_api.catalog import Catalog
from mostrador.panel_api.models import BranchOut, TopicOut
from mostrador.panel_api.service import build
from mostrador.platform.clock import FakeClock
from mostrador.platform.http import create_app, start_all, stop_all
from mostrador.platform.service import Context
from mostrador.platform.settings import Settings

ADMIN, ADMIN_PW = "root", "root-password-123"
PASSWORD = "operator-pass-123"
T0 = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)
CATALOG = Catalog(
    branches=[BranchOut(id="centro", name="Sucursal Centro"), BranchOut(id="palermo", name="Sucursal Palermo")],
    topics=[TopicOut(id="reclamo", title="Reclamo"), TopicOut(id="estado", title="Estado de mi pedido")],
)


class FakeCommands:
    """One service's command side: records every command; ``answers[name](body)`` returns the
    result or raises CommandError; a missing answer is a bug in the test."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.answers: dict[str, Callable[[dict[str, Any]], Any]] = {}

    async def __call__(self, command: str, body: dict[str, Any]) -> Any:
        self.calls.append((command, body))
        answer = self.answers.get(command)
        if answer is None:
            raise CommandError("unexpected", f"test did not program {command}", 500)
        result = answer(body)
        return await result if asyncio.iscoroutine(result) else result


def refuse(code: str, message: str, status: int = 409) -> Callable[[dict[str, Any]], Any]:
    def answer(body: dict[str, Any]) -> Any:
        raise CommandError(code, message, status)
    return answer


@dataclass
class Panel:
    app: Any
    bus: InMemoryBus
    service: Any
    clock: FakeClock
    tickets: FakeCommands
    chat: FakeCommands
    sleeps: list[float] = field(default_factory=list)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # what "ingest" has stored
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def views(self):
        return self.service.parts["views"]

    @property
    def users(self):
        return self.service.parts["users"]

    def client(self, ip: str = "10.0.0.1") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(ip, 50000))
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        self.clients.append(client)
        return client

    async def login(self, username: str, password: str, ip: str = "10.0.0.1") -> httpx.AsyncClient:
        """A client logged in by cookie; its CSRF token is sent on every request."""
        client = self.client(ip)
        response = await client.post("/api/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        client.bearer = response.json()["access_token"]  # type: ignore[attr-defined]
        return client

    async def operator(self, username: str, branches: list[str] | None = None) -> httpx.AsyncClient:
        if self.users.get(username) is None:
            self.users.create(username, username.title(), PASSWORD, "operator", branches)
        return await self.login(username, PASSWORD)

    async def admin(self) -> httpx.AsyncClient:
        return await self.login(ADMIN, ADMIN_PW)

    async def publish(self, payload, aggregate_id: str, version: int = 1) -> None:
        await self.bus.publish(new_envelope(payload, producer=payload.TYPE.split(".")[0], aggregate_id=aggregate_id,
                                            aggregate_version=version))

    async def ticket(self, state: TicketState) -> TicketState:
        await self.publish(TicketOpened(ticket=state), state.ticket_id, state.version)
        await wait_for(lambda: (row := self.views.ticket(state.number)) is not None and row["version"] >= state.version)
        return state

    async def message(self, message: MessageState, conversation: ConversationState) -> None:
        await self.publish(MessageRecorded(message=message, conversation=conversation), message.message_id,
                           message.version)
        await wait_for(lambda: (m := self.views.message(message.message_id)) is not None
                       and m["version"] >= message.version)


async def wait_for(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


_ids = itertools.count(1)


def customer(phone: str, name: str = "Cliente") -> Customer:
    return Customer(key=phone, wa_id=phone, name=name)


def ticket_state(number: int, *, phone: str | None = None, status: str = "COMPLETO", branch: str | None = "centro",
                 type: str = "PEDIDO", topic: str | None = None, version: int = 1, opened: datetime | None = None,
                 last: datetime | None = None, missing: list[str] | None = None,
                 details: TicketDetails | None = None, history: list[StatusChange] | None = None) -> TicketState:
    phone = phone or f"54911{number:08d}"
    opened = opened or T0 + timedelta(minutes=number)
    return TicketState(ticket_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"t{number}")), number=number, version=version,
                       customer=customer(phone), type=type, status=status, branch=branch, topic=topic,
                       details=details or TicketDetails(), missing=missing or [], opened_at=opened,
                       first_message_id=f"wamid.first.{number}", last_message_at=last or opened,
                       last_message_id=f"wamid.last.{number}", history=history or [])


def conversation(state: TicketState, *, unread: int = 0, window_closes: datetime | None = None,
                 version: int = 1) -> ConversationState:
    closes = window_closes if window_closes is not None else T0 + timedelta(hours=24)
    return ConversationState(customer=state.customer, version=version, ticket_id=state.ticket_id,
                             number=state.number, ticket_status=state.status, unread=unread,
                             last_inbound_at=closes - timedelta(hours=24), window_closes_at=closes)


def inbound(state: TicketState, text: str | None = "hola", *, message_id: str | None = None, at: datetime | None = None,
            **fields: Any) -> MessageState:
    at = at or T0
    wamid = f"wamid.in.{next(_ids)}"
    return MessageState(message_id=message_id or str(uuid.uuid4()), version=1, direction="in",
                        author=Actor(kind="customer"), customer_key=state.customer.key, ticket_id=state.ticket_id,
                        number=state.number, at=at, status="received", wamid=wamid,
                        inbound=InboundMessage(message_id=wamid, phone_number_id="1", customer=state.customer,
                                               timestamp=at, type=fields.pop("type", "text"), text=text, **fields))


def outbound(state: TicketState, content: OutboundContent, *, author: Actor | None = None, status: str = "sent",
             message_id: str | None = None, version: int = 1, error: dict | None = None) -> MessageState:
    return MessageState(message_id=message_id or str(uuid.uuid4()), version=version, direction="out",
                        author=author or Actor(kind="bot"), customer_key=state.customer.key,
                        ticket_id=state.ticket_id, number=state.number, at=T0 + timedelta(seconds=next(_ids)),
                        content=content, status=status, error=error)


@pytest.fixture
async def panel(tmp_path):
    clock = FakeClock(T0 + timedelta(hours=1))
    settings = Settings(data_dir=tmp_path, admin_username=ADMIN, admin_password=SecretStr(ADMIN_PW),
                        login_max_failures=3, login_lockout_seconds=60, session_hours=2)
    bus = InMemoryBus()
    tickets, chat = FakeCommands(), FakeCommands()
    bus.serve("tickets", tickets)
    bus.serve("chat", chat)
    sleeps: list[float] = []

    async def record_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    media: dict[str, tuple[bytes, str]] = {}

    async def fetch_media(media_id: str):
        return media.get(media_id)

    ctx = Context(settings=settings, bus=bus, clock=clock,
                  extras={"panel_catalog": CATALOG, "panel_sleep": record_sleep, "panel_command_timeout": 0.3,
                          "panel_sse_ping": 0.2, "panel_sse_recheck": 0.2,
                          "panel_media_fetch": fetch_media})
    service = build(ctx)
    app = create_app("panel-test", bus, [service], manage_lifecycle=False)
    await start_all(bus, [service])
    panel = Panel(app, bus, service, clock, tickets, chat, sleeps, media)
    try:
        yield panel
    finally:
        for client in panel.clients:
            await client.aclose()
        await stop_all(bus, [service])
