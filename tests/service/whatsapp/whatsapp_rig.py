"""In-process wiring for the WhatsApp service tests: fake Graph ⇄ client, fake Graph → webhook receiver.

The ``rig`` fixture is re-exported by this folder's conftest.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from mostrador.whatsapp.client import WhatsAppClient
from mostrador.whatsapp.fakegraph import create_fake_graph
from mostrador.whatsapp.fakegraph_state import FakeGraphState
from mostrador.whatsapp.signature import verify

SECRET = "test-app-secret"
TOKEN = "test-access-token"
PHONE_NUMBER_ID = "109876543210987"
WEBHOOK_URL = "http://app.test/webhooks/whatsapp"


@dataclass
class Received:
    raw: bytes
    signature: str | None

    @property
    def signed(self) -> bool:
        return verify(SECRET, self.raw, self.signature)


@dataclass
class Receiver:
    """A stand-in for our ingest endpoint: records every webhook, answers with scripted statuses."""

    app: FastAPI
    received: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # consumed first; then 200


def make_receiver() -> Receiver:
    app = FastAPI()
    receiver = Receiver(app)

    @app.post("/webhooks/whatsapp")
    async def hook(request: Request) -> Response:
        receiver.received.append(Received(await request.body(), request.headers.get("x-hub-signature-256")))
        return Response(status_code=receiver.answers.pop(0) if receiver.answers else 200)

    return receiver


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(round(seconds, 6))
        await asyncio.sleep(0)


@dataclass
class Rig:
    graph: FastAPI
    fake: FakeGraphState
    receiver: Receiver
    time: FakeTime
    control: httpx.AsyncClient  # talks to the fake's /_fake control plane

    def client(self, **overrides) -> WhatsAppClient:
        options = {
            "base_url": "http://graph.test/v25.0",
            "phone_number_id": PHONE_NUMBER_ID,
            "access_token": TOKEN,
            "transport": httpx.ASGITransport(self.graph),
            "sleep": self.time.sleep,
            "clock": self.time.clock,
            "random": lambda: 0.5,
        }
        return WhatsAppClient(**options | overrides)

    async def inject(self, **error) -> None:
        (await self.control.post("/_fake/errors", json=error)).raise_for_status()


@pytest.fixture
async def rig():
    receiver = make_receiver()
    graph = create_fake_graph(
        app_secret=SECRET,
        webhook_url=WEBHOOK_URL,
        access_token=TOKEN,
        webhook_transport=httpx.ASGITransport(receiver.app),
        status_delays=(0, 0),
        webhook_retry_delays=(0, 0),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(graph), base_url="http://graph.test"
    ) as control:
        yield Rig(graph, graph.state.fake, receiver, FakeTime(), control)
        await graph.state.fake.settle()
