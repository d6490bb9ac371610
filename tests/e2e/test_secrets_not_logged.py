"""Secrets never reach a log line: run the embedded system with known secrets, exercise every path
that touches them (webhook signatures good and bad, the verify handshake right and wrong, logins
right and wrong, bearer calls), and grep everything that was logged."""

from __future__ import annotations

import io
import logging

import httpx
import pytest

from mostrador.platform import logs
from tests.e2e.harness import APP_SECRET, fixture_now, post_webhook

pytestmark = pytest.mark.timeout(120)
VERIFY_TOKEN = "verify-token-9f8e7d6c"
ADMIN_PASSWORD = "admin-password-5a4b3c2d"


def test_no_secret_appears_in_the_logs(embedded):
    stream = io.StringIO()
    logs.configure("DEBUG", "json", stream=stream)
    root = logging.getLogger()
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    try:
        server, _ = embedded(whatsapp_verify_token=VERIFY_TOKEN, admin_password=ADMIN_PASSWORD, log_level="DEBUG")
        with server:
            base = server.base_url
            assert post_webhook(base, fixture_now("text_hola.json")).status_code == 200
            assert post_webhook(base, fixture_now("text_hola.json"), secret="forged").status_code == 401
            for token in (VERIFY_TOKEN, "wrong-token"):
                httpx.get(f"{base}/webhooks/whatsapp", timeout=5,
                          params={"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "42"})
            assert httpx.post(f"{base}/api/auth/login", json={"username": "admin", "password": "nope"},
                              timeout=10).status_code == 401
            login = httpx.post(f"{base}/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD},
                               timeout=10).json()
            bearer = {"Authorization": f"Bearer {login['access_token']}"}
            assert httpx.get(f"{base}/api/tickets", headers=bearer, timeout=5).status_code == 200
            httpx.get(f"{base}/api/tickets", headers={"Authorization": "Bearer forged-token"}, timeout=5)
    finally:
        root.removeHandler(handler)
        logs.configure("WARNING", "console")
    captured = stream.getvalue()
    assert "webhook.bad_signature" in captured  # the logs were captured at all
    for secret in (APP_SECRET, VERIFY_TOKEN, ADMIN_PASSWORD, login["access_token"], login["csrf_token"],
                   "forged-token"):
        assert secret not in captured, f"a secret leaked into the logs: {secret[:6]}…"
