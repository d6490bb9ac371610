"""The runtime face of every service, built as the runner builds it (create_app over one service) on
the in-memory bus and SQLite: /healthz, /readyz (503 until started, when the bus or the service's own
checks fail, and after stop), Prometheus /metrics, and the context on the JSON log lines of a message."""

from __future__ import annotations

import importlib
import io
import json
import logging
from datetime import UTC, datetime

import httpx
import pytest
import structlog
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.parser import text_string_to_metric_families

from mostrador.events.envelope import new_envelope, stable_id
from mostrador.events.memory import InMemoryBroker, InMemoryBus
from mostrador.events.schemas import ingest
from mostrador.events.schemas.common import Customer
from mostrador.platform import logs, metrics
from mostrador.platform.clock import FakeClock
from mostrador.platform.http import create_app
from mostrador.platform.service import Context
from mostrador.platform.settings import Settings
from tests.polling import until

T0 = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)
SERVICES = ["ingest", "bot", "tickets", "chat", "scheduler", "panel_api"]
PROJECT_METRICS = {m.describe()[0].name for m in vars(metrics).values() if isinstance(m, Counter | Gauge | Histogram)}
LUCIA = Customer(key="5491100000001", wa_id="5491100000001", name="Lucía")


def build(name: str, tmp_path, bus):
    module = importlib.import_module(f"mostrador.{name}.service")
    settings = Settings(data_dir=tmp_path, scheduler_poll_seconds=3600)
    service = module.build(Context(settings=settings, bus=bus, clock=FakeClock(T0)))
    return create_app(f"mostrador-{service.name}", bus, [service]), service


def http_for(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service")


def sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def received(wamid: str):
    message = ingest.InboundMessage(message_id=wamid, phone_number_id="1", timestamp=T0, type="text", text="Hola",
                                    customer=LUCIA)
    event_id = stable_id("ingest", "message", wamid)
    return new_envelope(ingest.MessageReceived(message=message), producer="ingest", aggregate_id=event_id,
                        event_id=event_id)



@pytest.mark.parametrize("name", SERVICES)
async def test_every_service_answers_health_readiness_and_metrics(name, tmp_path):
    bus = InMemoryBus(InMemoryBroker())
    app, service = build(name, tmp_path, bus)
    async with http_for(app) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        early = await http.get("/readyz")
        assert early.status_code == 503
        assert early.json()["checks"]["started"] is False and early.json()["checks"]["bus"] is False

        async with app.router.lifespan_context(app):
            assert (await http.get("/healthz")).status_code == 200
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json() == {"status": "ready", "checks": {"started": True, "bus": True, service.name: True}}

            bus.broker.available = False  # the broker went away
            down = await http.get("/readyz")
            assert down.status_code == 503 and down.json()["checks"]["bus"] is False
            bus.broker.available = True
            assert (await http.get("/readyz")).status_code == 200

            exposed = await http.get("/metrics")
            assert exposed.status_code == 200
            assert exposed.headers["content-type"].startswith("text/plain; version=")  # the text format
            families = {f.name for f in text_string_to_metric_families(exposed.text)}
            assert PROJECT_METRICS <= families, PROJECT_METRICS - families

        assert (await http.get("/readyz")).status_code == 503  # stopped
        assert (await http.get("/healthz")).status_code == 200


@pytest.mark.parametrize(("name", "worker"), [("bot", "relay"), ("tickets", "relay"), ("chat", "relay"),
                                              ("scheduler", "timer")])
async def test_readiness_fails_when_the_service_s_own_worker_stops(name, worker, tmp_path):
    bus = InMemoryBus(InMemoryBroker())
    app, service = build(name, tmp_path, bus)
    async with http_for(app) as http, app.router.lifespan_context(app):
        assert (await http.get("/readyz")).status_code == 200
        await service.parts[worker].stop()
        stopped = await http.get("/readyz")
        assert stopped.status_code == 503
        assert stopped.json()["checks"] == {"started": True, "bus": True, service.name: False}


async def test_metrics_count_the_work_done(tmp_path):
    bus = InMemoryBus(InMemoryBroker())
    app, service = build("tickets", tmp_path, bus)
    consumed = ("mostrador_bus_consumed_total", {"service": "tickets", "outcome": "ok"})
    timed = ("mostrador_handler_seconds_count", {"service": "tickets"})
    published = ("mostrador_bus_published_total", {"producer": "tickets"})
    async with http_for(app) as http, app.router.lifespan_context(app):
        before = (await http.get("/metrics")).text  # one registry per process: compare, do not assume zero
        await bus.publish(received("wamid.metrics-1"))

        async def relayed():  # the message handled, the ticket opened and its message published
            text = (await http.get("/metrics")).text
            done = sample(text, published[0], **published[1]) >= sample(before, published[0], **published[1]) + 2
            return text if done and service.parts["relay"].position >= 2 else None

        after = await until(relayed)
        for name, labels in (consumed, timed):
            assert sample(after, name, **labels) == sample(before, name, **labels) + 1, name
        assert sample(after, "mostrador_relay_position", producer="tickets") == service.parts["relay"].position


async def test_ingest_metrics_count_webhook_outcomes(tmp_path):
    bus = InMemoryBus(InMemoryBroker())
    app, _ = build("ingest", tmp_path, bus)
    async with http_for(app) as http, app.router.lifespan_context(app):
        before = sample((await http.get("/metrics")).text, "mostrador_webhook_requests_total", outcome="bad_signature")
        forged = await http.post("/webhooks/whatsapp", content=b"{}", headers={"X-Hub-Signature-256": "sha256=00"})
        assert forged.status_code == 401
        after = sample((await http.get("/metrics")).text, "mostrador_webhook_requests_total", outcome="bad_signature")
        assert after == before + 1


# -- log lines ---------------------------------------------------------------------------------------


@pytest.fixture
def json_logs():
    """Configure the JSON logs into a buffer; returns a function giving the structlog lines so far."""
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    logs.configure("INFO", "json", stream=stream)

    def lines() -> list[dict]:
        out = []
        for line in stream.getvalue().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass  # a stdlib logging line (same stream, plain text)
        return out

    yield lines
    structlog.reset_defaults()
    root.handlers[:], root.level = handlers, level


async def test_log_lines_of_a_message_carry_its_event_correlation_and_customer(tmp_path, json_logs):
    bus = InMemoryBus(InMemoryBroker())
    app, service = build("tickets", tmp_path, bus)
    async with app.router.lifespan_context(app):
        first = received("wamid.logs-1")
        await bus.publish(first)

        async def opened():
            return service.parts["relay"].position >= 2  # ticket opened, message attached, both published

        await until(opened)
        await bus.publish(first)  # Meta's duplicate delivery: tickets logs that it ignored it

        async def ignored():
            return [line for line in json_logs() if line.get("event") == "tickets.duplicate_ignored"]

        [line] = await until(ignored)
    assert line["event_id"] == str(first.event_id)
    assert line["correlation_id"] == str(first.correlation_id or first.event_id)
    assert line["event_type"] == "ingest.message.received.v1"
    assert line["customer"] == LUCIA.key
    assert line["level"] == "info" and "timestamp" in line
    # nothing of this message leaks into lines logged outside its handling
    outside = [x for x in json_logs() if x.get("event") == "services.stopped"]
    assert outside and all("event_id" not in x for x in outside)


async def test_a_chat_send_logs_the_ticket_and_customer_it_is_for(tmp_path, json_logs):
    from tests.service.chat.chat_rig import start_rig
    rig, service = await start_rig(tmp_path)
    await rig.bus.start()
    await service.start()
    # chat's own SendRequested would race the early send for the customer's lane (either sends it,
    # once); without its relay the early send is the one, and the one whose log line we check
    await service.parts["relay"].stop()
    try:
        await rig.customer_writes("hola")
        reply = await rig.bot_reply()
        mid = str(stable_id("chat", "out", reply.event_id))
        await until(lambda: len(rig.sends(mid)) == 1, what="the reply at WhatsApp")

        async def sent():
            return [line for line in json_logs() if line.get("event") == "chat.sent"]

        [line] = await until(sent)
    finally:
        await rig.fake.settle()
        await rig.bus.stop(drain_timeout=2)
        await service.stop()
    assert line["message_id"] == mid
    # sent as soon as chat recorded the bot's reply request (Sender.send_soon), in that event's handling
    assert line["event_id"] == str(reply.event_id)
    assert line["correlation_id"] == str(reply.correlation_id or reply.event_id)
    assert (line["ticket"], line["customer"]) == (1, LUCIA.key)
