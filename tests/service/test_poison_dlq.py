"""Poison messages in the embedded mode (the in-memory bus, journaled to DATA_DIR/bus.db): a customer
message the tickets service fails on every time (a bug) goes to the dead-letter queue after the delivery
limit, while other customers' messages flow; it is counted in /metrics; `make dlq` (the CLI, reading
the journal) lists it; after the fix, `--redrive tickets` puts it back and the next start processes it.
An envelope that cannot even be parsed goes to the dead letters at once, and is counted too."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import partial

import httpx
import pytest
from prometheus_client import REGISTRY

from mostrador.events.envelope import stable_id
from mostrador.events.schemas.ingest import MessageReceived
from tests.e2e.harness import ADMIN, APP_SECRET, ROOT, sign, text_message
from tests.polling import until

eventually = partial(until, timeout=20.0)

pytestmark = pytest.mark.timeout(120)
POISON, GOOD = "wamid.POISON-1", "wamid.GOOD-1"


def settings_for(tmp_path):
    from mostrador.platform.settings import Settings
    # database_url/amqp_url None: the embedded mode on SQLite, even when the shell exports DATABASE_URL
    return Settings(data_dir=tmp_path / "var", database_url=None, amqp_url=None, whatsapp_app_secret=APP_SECRET,
                    admin_username=ADMIN[0], admin_password=ADMIN[1], log_level="WARNING", log_format="console",
                    bus_delivery_limit=3)


def dead_lettered(service: str) -> float:
    return REGISTRY.get_sample_value("mostrador_bus_dead_lettered_total", {"service": service}) or 0.0


def dlq_cli(tmp_path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("AMQP_URL", "DATABASE_URL")}
    env["DATA_DIR"] = str(tmp_path / "var")
    out = subprocess.run([sys.executable, "-m", "mostrador.platform.dlq", *args], check=False, cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout



async def post(client: httpx.AsyncClient, wamid: str, phone: str) -> httpx.Response:
    body = text_message(wamid, phone, "Cliente", "Hola")
    return await client.post("/webhooks/whatsapp", content=body,
                             headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(body)})


async def test_a_message_failing_every_time_is_dead_lettered_counted_listed_and_redriven(tmp_path):
    from deploy.embedded import build_embedded

    system = build_embedded(settings_for(tmp_path))
    handlers = system.services["tickets"].parts["handlers"]
    real_apply = handlers._apply

    def buggy_apply(payload, key):
        if isinstance(payload, MessageReceived) and payload.message.message_id == POISON:
            raise RuntimeError("a bug that fails this message every time")
        return real_apply(payload, key)

    handlers._apply = buggy_apply
    poison_id = str(stable_id("ingest", "message", POISON))
    before = dead_lettered("tickets")
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=system.app), base_url="http://mostrador")
    async with system.app.router.lifespan_context(system.app), http as client:
            assert (await post(client, POISON, "5491100000071")).status_code == 200
            assert (await post(client, GOOD, "5491100000072")).status_code == 200
            dead = await eventually(lambda: system.bus.dead_letters("tickets"))
            assert [d["message_id"] for d in dead] == [poison_id]
            assert int(dead[0]["headers"]["x-delivery-count"]) == 3  # the limit, not before
            tickets = system.services["tickets"].parts["app"]
            assert tickets.get_ticket(1).customer["key"] == "5491100000072"  # the others flowed meanwhile
            metrics = (await client.get("/metrics")).text
            assert f'mostrador_bus_dead_lettered_total{{service="tickets"}} {before + 1}' in metrics

            # Not even an envelope: straight to the dead letters, counted too.
            system.bus.broker.route(b"{not an envelope", "ingest.message.received.v1", "garbage-1")
            await eventually(lambda: _count(system.bus.dead_letters("tickets"), 2))
            assert dead_lettered("tickets") == before + 2

    listing = dlq_cli(tmp_path)
    assert "tickets: 2 dead letter(s)" in listing
    assert f"ingest.message.received.v1 event_id={poison_id}" in listing
    assert "bot: 0 dead letter(s)" in listing

    # The bug is fixed (a new release, i.e. a fresh build without the patch); the operator re-drives.
    assert "re-drove 2 message(s) to tickets" in dlq_cli(tmp_path, "--redrive", "tickets")
    system = build_embedded(settings_for(tmp_path))
    async with system.app.router.lifespan_context(system.app):
        tickets = system.services["tickets"].parts["app"]

        async def filed() -> bool:
            try:
                return tickets.get_ticket(2).customer["key"] == "5491100000071"
            except LookupError:
                return False

        await eventually(filed)
        # the garbage is still garbage: back in the dead letters, alone
        dead = await eventually(lambda: _count(system.bus.dead_letters("tickets"), 1))
        assert [d["message_id"] for d in dead] == ["garbage-1"]
    assert "tickets: 1 dead letter(s)" in dlq_cli(tmp_path)


async def _count(letters, n: int):
    found = await letters
    return found if len(found) == n else None
