"""The ingest service through its HTTP face: every fixture becomes the right events, and forged,
malformed, oversized, duplicate and broker-down deliveries get the answer Meta needs."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from mostrador.events.memory import InMemoryBroker, InMemoryBus
from mostrador.platform.clock import FakeClock
from mostrador.platform.http import create_app
from mostrador.platform.service import Context
from mostrador.platform.settings import Settings
from mostrador.whatsapp.fakegraph import create_fake_graph
from mostrador.whatsapp.signature import sign

SECRET = "ingest-test-secret"
FIXTURES = ["batch_two_contacts.json", "image_comprobante.json", "interactive_button_reply_operador.json",
            "interactive_list_reply_sucursal.json", "location_envio.json", "status_failed_131047.json",
            "status_read.json", "status_sent_delivered_batch.json", "text_hola.json", "text_reply_context.json",
            "text_username_sin_telefono.json", "unsupported_131051.json"]


class Rig:
    def __init__(self, tmp_path) -> None:
        from mostrador.ingest.service import build
        self.broker = InMemoryBroker()
        self.bus = InMemoryBus(self.broker)
        self.published: list = []

        async def collect(envelope):
            self.published.append(envelope)

        self.bus.subscribe("collector", ["ingest.#"], collect)
        self.fake = create_fake_graph(app_secret=SECRET, webhook_url=None, access_token="sandbox-token")
        settings = Settings(data_dir=tmp_path, whatsapp_app_secret=SECRET, whatsapp_verify_token="verify-me",
                            whatsapp_max_body_bytes=64 * 1024)
        self.service = build(Context(settings=settings, bus=self.bus, clock=FakeClock(),
                                     extras={"whatsapp_transport": httpx.ASGITransport(app=self.fake)}))
        self.app = create_app("ingest", self.bus, [self.service])
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://ingest")

    async def post(self, body: bytes, signature: str | None = "auto") -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if signature == "auto":
            signature = sign(SECRET, body)
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        return await self.http.post("/webhooks/whatsapp", content=body, headers=headers)

    async def settle(self) -> None:
        for _ in range(15):  # the in-memory bus delivers on the next turns of the loop
            await asyncio.sleep(0.005)

    def of(self, routing_key: str) -> list:
        return [e for e in self.published if e.routing_key == routing_key]


@pytest.fixture
async def rig(tmp_path):
    rig = Rig(tmp_path)
    async with rig.app.router.lifespan_context(rig.app):
        yield rig
    await rig.http.aclose()


@pytest.mark.parametrize("name", FIXTURES)
async def test_every_fixture_is_accepted_and_published_item_by_item(rig, whatsapp_fixture, name):
    raw = whatsapp_fixture(name)
    data = json.loads(raw)
    values = [c["value"] for e in data["entry"] for c in e["changes"]]
    expected_messages = [m["id"] for v in values for m in v.get("messages", [])]
    expected_statuses = [(s["id"], s["status"]) for v in values for s in v.get("statuses", [])]
    response = await rig.post(raw)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "messages": len(expected_messages),
                               "statuses": len(expected_statuses)}
    await rig.settle()
    received = rig.of("ingest.message.received.v1")
    statuses = rig.of("ingest.message.status.v1")
    assert [e.payload.message.message_id for e in received] == expected_messages
    assert [(e.payload.message_id, e.payload.status) for e in statuses] == expected_statuses
    for envelope in received + statuses:
        assert envelope.producer == "ingest"


async def test_batch_customers_are_matched_by_id_and_the_username_customer_has_no_phone(rig, whatsapp_fixture):
    await rig.post(whatsapp_fixture("batch_two_contacts.json"))
    await rig.post(whatsapp_fixture("text_username_sin_telefono.json"))
    await rig.settle()
    people = [(e.payload.message.customer.key, e.payload.message.customer.name)
              for e in rig.of("ingest.message.received.v1")]
    assert people == [("5491100000002", "Martín Gómez"), ("5491100000003", "Sofía"),
                      ("AR.4470192837465019", "Caro")]
    caro = rig.of("ingest.message.received.v1")[-1].payload.message.customer
    assert caro.wa_id is None and caro.username == "@caro.compras"


async def test_duplicate_delivery_publishes_the_same_event_ids(rig, whatsapp_fixture):
    raw = whatsapp_fixture("status_sent_delivered_batch.json")
    await rig.post(raw)
    await rig.post(raw)  # Meta retries for days
    await rig.post(whatsapp_fixture("text_hola.json"))
    await rig.post(whatsapp_fixture("text_hola.json"))
    await rig.settle()
    ids = [e.event_id for e in rig.published]
    assert len(ids) == 6 and len(set(ids)) == 3  # same ids: consumers recognise the repeat


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "sha1=abc", "garbage"])
async def test_forged_or_unsigned_deliveries_are_refused_and_counted(rig, whatsapp_fixture, signature):
    from prometheus_client import REGISTRY
    before = REGISTRY.get_sample_value("mostrador_webhook_requests_total", {"outcome": "bad_signature"}) or 0
    response = await rig.post(whatsapp_fixture("text_hola.json"), signature=signature)
    assert response.status_code == 401
    await rig.settle()
    assert rig.published == []
    after = REGISTRY.get_sample_value("mostrador_webhook_requests_total", {"outcome": "bad_signature"})
    assert after == before + 1


@pytest.mark.parametrize("body, message", [
    (b"{not json", "not valid JSON"),
    (b'{"object": "page", "entry": []}', "whatsapp_business_account"),
    (b"[]", "object"),
])
async def test_malformed_bodies_get_a_clear_400(rig, body, message):
    response = await rig.post(body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_payload"
    assert message.lower() in response.json()["message"].lower()


async def test_oversized_bodies_get_413_before_anything_else(rig):
    body = b'{"object": "whatsapp_business_account", "pad": "' + b"x" * (70 * 1024) + b'"}'
    response = await rig.post(body)
    assert response.status_code == 413
    assert rig.published == []


async def test_broker_down_answers_503_so_meta_retries_and_nothing_is_lost(rig, whatsapp_fixture):
    rig.broker.available = False
    response = await rig.post(whatsapp_fixture("text_hola.json"))
    assert response.status_code == 503 and response.headers["retry-after"]
    rig.broker.available = True
    assert (await rig.post(whatsapp_fixture("text_hola.json"))).status_code == 200  # Meta's retry
    await rig.settle()
    assert len(rig.of("ingest.message.received.v1")) == 1


async def test_verification_handshake(rig):
    ok = await rig.http.get("/webhooks/whatsapp", params={"hub.mode": "subscribe", "hub.verify_token": "verify-me",
                                                          "hub.challenge": "1158201444"})
    assert (ok.status_code, ok.text) == (200, "1158201444")
    assert ok.headers["content-type"].startswith("text/plain")
    for params in ({"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
                   {"hub.mode": "unsubscribe", "hub.verify_token": "verify-me", "hub.challenge": "1"}, {}):
        assert (await rig.http.get("/webhooks/whatsapp", params=params)).status_code == 403


async def test_inbound_media_is_fetched_kept_and_served_only_with_the_internal_token(rig, whatsapp_fixture):
    photo = b"\xff\xd8\xff\xe0 a receipt"
    media_id, _ = rig.fake.state.fake.add_media(photo, "image/jpeg")
    raw = whatsapp_fixture("image_comprobante.json").replace(b"1357924680135792", media_id.encode())
    assert (await rig.post(raw)).status_code == 200
    for _ in range(200):
        if rig.of("ingest.media.stored.v1"):
            break
        await asyncio.sleep(0.02)
    [stored] = rig.of("ingest.media.stored.v1")
    assert (stored.payload.media_id, stored.payload.size) == (media_id, len(photo))
    assert (await rig.http.get(f"/internal/media/{media_id}")).status_code == 401
    served = await rig.http.get(f"/internal/media/{media_id}",
                                headers={"Authorization": f"Bearer {Settings(whatsapp_app_secret=SECRET).internal_token}"})
    assert (served.status_code, served.content, served.headers["content-type"]) == (200, photo, "image/jpeg")
