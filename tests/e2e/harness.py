"""Running the whole system from outside: the embedded app under a real uvicorn on a free port, or
every service as its own process (distributed), plus signed Meta-shaped webhooks to drive it."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from pathlib import Path

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "whatsapp"
APP_SECRET = "e2e-app-secret"
ADMIN = ("admin", "e2e-admin-password")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def fixture_now(name: str, **replace: str) -> bytes:
    """A fixture with its timestamps moved to now (fixtures are from September; a 48 h-old message
    would be expired at once) and optional literal replacements (ids, phones)."""
    text = (FIXTURES / name).read_text()
    data = json.loads(text)
    now = str(int(time.time()))
    for entry in data["entry"]:
        for change in entry["changes"]:
            for item in change["value"].get("messages", []) + change["value"].get("statuses", []):
                item["timestamp"] = now
    text = json.dumps(data)
    for old, new in replace.items():
        text = text.replace(old, new)
    return text.encode()


def text_message(wamid: str, phone: str, name: str, body: str, *, ts: int | None = None) -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "102030405060708", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "5491100000000", "phone_number_id": "109876543210987"},
            "contacts": [{"profile": {"name": name}, "wa_id": phone}],
            "messages": [{"from": phone, "id": wamid, "timestamp": str(ts or int(time.time())), "type": "text",
                          "text": {"body": body}}]}}]}]}).encode()


def post_webhook(base_url: str, body: bytes, secret: str = APP_SECRET) -> httpx.Response:
    return httpx.post(f"{base_url}/webhooks/whatsapp", content=body, timeout=10,
                      headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, secret)})


def login(base_url: str, username: str = ADMIN[0], password: str = ADMIN[1]) -> dict[str, str]:
    response = httpx.post(f"{base_url}/api/auth/login", json={"username": username, "password": password},
                          timeout=10)
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def wait_for(fetch, predicate, timeout: float = 20.0, interval: float = 0.1):
    """Poll ``fetch()`` until ``predicate(result)`` holds; returns the result."""
    deadline = time.monotonic() + timeout
    while True:
        result = fetch()
        if predicate(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last: {result!r}"[:2000])
        time.sleep(interval)


class ServerThread:
    """A uvicorn server for an ASGI app, in a background thread (its own event loop)."""

    def __init__(self, app, port: int) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                                    access_log=False, lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.base_url = f"http://127.0.0.1:{port}"

    def __enter__(self):
        self.thread.start()
        wait_for(lambda: self._ready(), bool, timeout=30)
        return self

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(30)
