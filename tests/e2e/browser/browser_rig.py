"""The whole embedded system (`make run`) on a real port, with its sandbox WhatsApp Graph API (the
customers' phones: it signs webhooks to us, accepts our sends and reports sent/delivered/read),
and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import base64
import contextlib
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.e2e.conftest import embedded_settings
from tests.e2e.harness import ADMIN, ServerThread, wait_for

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@dataclass
class Running:
    base_url: str
    graph_url: str
    system: object

    def customer_says(self, phone: str, name: str, text: str) -> dict:
        """The customer writes on WhatsApp: the fake Graph API signs and posts the webhook to us."""
        response = httpx.post(f"{self.graph_url}/_fake/inbound", timeout=10,
                              json={"type": "text", "wa_id": phone, "name": name, "text": text})
        assert response.status_code == 200, response.text
        return response.json()

    def customer_taps(self, phone: str, name: str, kind: str, reply_id: str, title: str) -> dict:
        """The customer taps a reply button (button_reply) or a list row (list_reply) the bot sent."""
        response = httpx.post(f"{self.graph_url}/_fake/inbound", timeout=10,
                              json={"type": kind, "wa_id": phone, "name": name, "reply_id": reply_id,
                                    "reply_title": title})
        assert response.status_code == 200, response.text
        return response.json()

    def customer_chooses(self, api: httpx.Client, number: int, phone: str, name: str, title: str) -> None:
        """Tap, by its title, an option of the last buttons/list the bot sent on ticket ``number``
        (the ids are the bot's business: read them from the conversation, as a phone would)."""
        def offered():
            items = api.get(f"/api/tickets/{number}/messages").json()["items"]
            bot = [m for m in items if m["direction"] == "out" and m["options"]]
            return bot[-1] if bot and any(o["title"] == title for o in bot[-1]["options"]) else None
        message = wait_for(offered, bool, timeout=10)
        option = next(o for o in message["options"] if o["title"] == title)
        kind = "list_reply" if message["type"] == "list" else "button_reply"
        self.customer_taps(phone, name, kind, option["id"], title)

    def customer_reads(self, phone: str) -> None:
        httpx.post(f"{self.graph_url}/_fake/read", json={"customer": phone}, timeout=10).raise_for_status()

    def sends_to(self, phone: str) -> list[dict]:
        """What the business sent this customer, as the fake Graph API recorded it."""
        data = httpx.get(f"{self.graph_url}/_fake/conversations", timeout=10).json()
        for conversation in data["conversations"]:
            if conversation["customer"]["wa_id"] == phone:
                return [m for m in conversation["messages"] if m["direction"] == "out"]
        return []

    def upload_media(self, data: bytes, mime_type: str) -> dict:
        """Put bytes in WhatsApp's media store, as a customer's phone does before sending a photo."""
        response = httpx.post(f"{self.graph_url}/_fake/media", timeout=10,
                              json={"data_base64": base64.b64encode(data).decode(), "mime_type": mime_type})
        assert response.status_code == 200, response.text
        return response.json()

    def fail_next_send(self, phone: str, code: int) -> None:
        """WhatsApp refuses our next send to this customer with error ``code``."""
        httpx.post(f"{self.graph_url}/_fake/errors", json={"code": code, "recipient": phone},
                   timeout=10).raise_for_status()

    def api(self) -> httpx.Client:
        client = httpx.Client(base_url=self.base_url, timeout=10)
        token = client.post("/api/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]}).json()
        client.headers["Authorization"] = f"Bearer {token['access_token']}"
        return client


@contextlib.contextmanager
def running_system(tmp_path, **overrides):
    from deploy.embedded import SANDBOX_PREFIX, build_embedded

    settings = embedded_settings(tmp_path, **overrides)
    system = build_embedded(settings)
    assert system.fake_graph is not None, "the embedded sandbox (no WhatsApp credentials) is expected"
    with ServerThread(system.app, settings.port) as server:
        yield Running(server.base_url, server.base_url + SANDBOX_PREFIX, system)


@contextlib.contextmanager
def chromium():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: run deploy/scripts/ensure-chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def log_in(page, base_url: str, username: str = ADMIN[0], password: str = ADMIN[1]) -> None:
    page.goto(base_url + "/")
    page.fill("#login-username", username)
    page.fill("#login-password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#live-state[data-state='on']")


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real, decodable PNG of one colour (a photo the browser must be able to draw)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def screenshot(page, name: str) -> Path:
    """Into test-artifacts/ (git-ignored), so a test run leaves the tree clean; UPDATE_SCREENSHOTS=1
    refreshes the README's pictures in docs/ instead."""
    folder = DOCS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else ARTIFACTS
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name))
    return folder / name


def until(predicate, timeout: float = 15.0):
    return wait_for(predicate, bool, timeout=timeout)


__all__ = ["ADMIN", "Running", "chromium", "log_in", "png", "running_system", "screenshot", "until"]
