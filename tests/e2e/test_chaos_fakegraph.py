"""The standalone fake Graph API (the one distributed runs and the chaos suite use) must keep up with
thousands of status webhooks. It built one httpx client per webhook — ~20 ms of CPU each for the TLS
set-up — so under the chaos suite's load its event loop starved, sends to it timed out (15 s), and the
chat service's retries of those sends could reach a customer twice. Now one client serves them all."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from tests.e2e.harness import ServerThread, free_port

pytestmark = pytest.mark.timeout(60)


def test_status_webhooks_share_one_http_client(monkeypatch):
    from mostrador.whatsapp.fakegraph import create_fake_graph
    from mostrador.whatsapp.fakegraph_payloads import PHONE_NUMBER_ID

    receiver, received, lock = FastAPI(), [], threading.Lock()

    @receiver.post("/webhooks/whatsapp")
    async def webhook(request: Request) -> dict:
        with lock:
            received.append(await request.body())
        return {}

    @receiver.get("/readyz")
    async def readyz() -> dict:
        return {}

    made = []

    class CountingClient(httpx.AsyncClient):
        def __init__(self, *args, **kwargs) -> None:
            made.append(1)
            super().__init__(*args, **kwargs)

    with ServerThread(receiver, free_port()) as server:
        fake = create_fake_graph(app_secret="s", webhook_url=f"{server.base_url}/webhooks/whatsapp",
                                 status_delays=(0.0, 0.0))
        with TestClient(fake) as graph:
            monkeypatch.setattr(httpx, "AsyncClient", CountingClient)  # only the fake makes async clients now
            sends = 40
            for i in range(sends):
                response = graph.post(f"/v25.0/{PHONE_NUMBER_ID}/messages", json={
                    "messaging_product": "whatsapp", "to": f"54911000{i:05d}", "type": "text",
                    "text": {"body": "hola"}, "biz_opaque_callback_data": f"key-{i}"})
                assert response.status_code == 200, response.text
            deadline = time.monotonic() + 20
            while len(received) < 2 * sends and time.monotonic() < deadline:  # "sent" and "delivered" each
                time.sleep(0.05)
    assert len(received) == 2 * sends
    assert len(made) <= 1, f"{len(made)} clients for {len(received)} webhooks"
