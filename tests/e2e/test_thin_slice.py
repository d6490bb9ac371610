"""The thin slice through everything, in both modes: a signed WhatsApp text webhook -> ingest ->
bus -> tickets opens ticket 1 as INCOMPLETO -> the panel's projection returns it from /api/tickets."""

from __future__ import annotations

import json

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mostrador.events.envelope import stable_id
from tests.e2e.harness import fixture_now, login, post_webhook, wait_for

pytestmark = pytest.mark.timeout(180)


def check_slice(webhook_url: str, panel_url: str) -> None:
    response = post_webhook(webhook_url, fixture_now("text_hola.json"))
    assert response.status_code == 200, response.text
    headers = login(panel_url)
    page = wait_for(lambda: httpx.get(f"{panel_url}/api/tickets", headers=headers, timeout=5).json(),
                    lambda body: body.get("items"))
    [ticket] = page["items"]
    assert (ticket["number"], ticket["status"], ticket["type"]) == (1, "INCOMPLETO", "PEDIDO")
    assert (ticket["name"], ticket["phone"]) == ("Lucía Fernández", "5491100000001")
    # the same delivery again (Meta retries): accepted, and nothing new downstream
    assert post_webhook(webhook_url, fixture_now("text_hola.json")).status_code == 200
    detail = httpx.get(f"{panel_url}/api/tickets/1", headers=headers, timeout=5).json()
    assert detail["message_count"] == 1


def test_slice_embedded(embedded):
    server, _system = embedded()
    with server:
        check_slice(server.base_url, server.base_url)


def test_slice_survives_a_restart_with_its_data(embedded, tmp_path):
    server, _system = embedded()
    with server:
        check_slice(server.base_url, server.base_url)
    server, _system = embedded()  # same DATA_DIR
    with server:
        headers = login(server.base_url)
        page = httpx.get(f"{server.base_url}/api/tickets", headers=headers, timeout=5).json()
        assert [t["number"] for t in page["items"]] == [1]


def test_slice_distributed(distributed):
    cluster = distributed()
    check_slice(f"http://127.0.0.1:{cluster.ports['ingest']}", f"http://127.0.0.1:{cluster.ports['panel-api']}")
    # the bot's greeting, sent by chat two services and three broker hops later, is logged under the
    # customer message's correlation id (ingest's event id for the message: its wamid's stable id)
    customer_message = str(stable_id("ingest", "message", "wamid.SEJnTi1maXh0dXJlLWluLWhvbGE="))
    sent = wait_for(lambda: [json.loads(line) for line in (cluster.log_dir / "chat.log").read_text().splitlines()
                             if '"chat.sent"' in line], lambda lines: lines)
    assert [line["correlation_id"] for line in sent] == [customer_message], sent
    for service, port in cluster.ports.items():  # each process froze its start-up heap (platform/http.py)
        exposed = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        [frozen] = [s.value for f in text_string_to_metric_families(exposed) for s in f.samples
                    if s.name == "mostrador_gc_frozen_objects"]
        assert frozen > 10_000, (service, frozen)
    cluster.stop()  # SIGTERM: each service stops consuming, drains, closes, then exits
    for service in cluster.ports:
        log = (cluster.log_dir / f"{service}.log").read_text()
        assert '"event": "services.stopped"' in log, f"{service} did not shut down gracefully:\n{log[-2000:]}"
        assert "Traceback" not in log, log[-3000:]
