"""How `make run` starts: without WHATSAPP_ACCESS_TOKEN it talks to its built-in sandbox (the fake Graph
API in process, and the simulator); with one it talks to WHATSAPP_GRAPH_BASE_URL with that bearer token
and has no sandbox at all. And the banner: the panel URL and how to log in — the generated admin
password on the first start only."""

from __future__ import annotations

import asyncio
import logging
import re

import httpx
import pytest
import structlog
from starlette.responses import PlainTextResponse

from mostrador.platform.settings import Settings
from mostrador.whatsapp.fakegraph import create_fake_graph
from mostrador.whatsapp.fakegraph_payloads import PHONE_NUMBER_ID
from tests.e2e.harness import ServerThread, free_port, post_webhook, text_message, wait_for

pytestmark = pytest.mark.timeout(120)

TOKEN = "EAAG-real-looking-token"
REAL = {"whatsapp_app_secret": "meta-app-secret-0123456789", "whatsapp_verify_token": "our-verify-token"}
PHONE = "5491100000077"


class Meta:
    """"The real Graph API": the fake one on a loopback port, requiring our token, noting every request."""

    def __init__(self, webhook_url: str) -> None:
        self.graph = create_fake_graph(app_secret=REAL["whatsapp_app_secret"], webhook_url=webhook_url,
                                       access_token=TOKEN, status_delays=(0.05, 0.1))
        self.seen: list[tuple[str, str, str]] = []  # method, path, Authorization

    @property
    def sends(self) -> list[dict]:
        return [r for r in self.graph.state.fake.requests if r.get("key") and r.get("status_code") == 200]

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            if scope["path"] == "/readyz":  # for ServerThread
                await PlainTextResponse("ok")(scope, receive, send)
                return
            headers = dict(scope["headers"])
            self.seen.append((scope["method"], scope["path"], headers.get(b"authorization", b"").decode()))
        await self.graph(scope, receive, send)


def replies_to(conversation_key: str, requests: list[dict]) -> list[dict]:
    return [r for r in requests if r.get("recipient") == conversation_key and r.get("key")]


def test_without_a_token_the_sandbox_answers_and_the_graph_url_is_not_used(embedded):
    meta_port = free_port()
    meta = Meta(webhook_url="http://127.0.0.1:1/unused")
    with ServerThread(meta, meta_port):
        server, system = embedded(whatsapp_graph_base_url=f"http://127.0.0.1:{meta_port}/v25.0")
        assert system.settings.sandbox and system.fake_graph is not None
        with server:
            assert httpx.get(f"{server.base_url}/simulator", timeout=5).status_code == 200
            assert post_webhook(server.base_url, text_message("wamid.sandbox-1", PHONE, "Lucía", "Hola")).is_success
            fake = system.fake_graph.state.fake
            wait_for(lambda: replies_to(PHONE, fake.requests), bool)  # the bot answered, in the sandbox
    assert meta.seen == []


def test_with_a_token_it_talks_to_the_graph_url_with_the_bearer_token_and_has_no_sandbox(embedded):
    port, meta_port = free_port(), free_port()
    meta = Meta(webhook_url=f"http://127.0.0.1:{port}/webhooks/whatsapp")
    with ServerThread(meta, meta_port):
        server, system = embedded(port=port, whatsapp_access_token=TOKEN, **REAL,
                                  whatsapp_graph_base_url=f"http://127.0.0.1:{meta_port}/v25.0")
        assert not system.settings.sandbox and system.fake_graph is None
        with server:
            assert httpx.get(f"{server.base_url}/simulator", timeout=5).status_code == 404
            assert httpx.get(f"{server.base_url}/sandbox/graph/_fake/requests", timeout=5).status_code == 404
            hola = text_message("wamid.real-1", PHONE, "Lucía", "Hola")
            assert post_webhook(server.base_url, hola, secret=REAL["whatsapp_app_secret"]).is_success
            [reply, *_] = wait_for(lambda: replies_to(PHONE, meta.sends), bool)
            assert reply["path"] == f"/v25.0/{PHONE_NUMBER_ID}/messages"
            # Meta's status webhooks, signed with the real app secret, come back and are applied
            chat = system.services["chat"].parts["app"]
            wait_for(lambda: [m["status"] for m in chat.conversation(PHONE).messages.values()
                              if m["direction"] == "out"], lambda states: "delivered" in states)
    assert meta.seen and {auth for _, _, auth in meta.seen} == {f"Bearer {TOKEN}"}


# -- the banner ------------------------------------------------------------------------------------


@pytest.fixture
def make_run(tmp_path, monkeypatch):
    """`deploy.embedded.main()` from a clean environment, its server not started; returns (printed
    text, the system it built)."""
    from deploy import embedded

    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("PORT", "8765")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    built = []
    real_build = embedded.build_embedded
    monkeypatch.setattr(embedded, "build_embedded",
                        lambda settings, **kw: built.append(real_build(settings, **kw)) or built[-1])

    class NotServed:
        def __init__(self, config) -> None:
            assert config.port == 8765

        def run(self) -> None:
            pass

    monkeypatch.setattr(embedded.uvicorn, "Server", NotServed)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level

    def start(capsys) -> tuple[str, object]:
        embedded.main()
        return capsys.readouterr().out, built[-1]

    yield start
    for system in built:  # started and stopped once each, so that its stores are closed
        if not getattr(system, "stopped", False):
            asyncio.run(logins(system))
    structlog.reset_defaults()
    root.handlers[:], root.level = handlers, level


async def logins(system, *attempts: tuple[str, str]) -> list[int]:
    """Start the system, try each login on its panel, stop it (a system runs once)."""
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=system.app), base_url="http://m")
    async with system.app.router.lifespan_context(system.app), http:
        answers = [await http.post("/api/auth/login", json={"username": u, "password": p}) for u, p in attempts]
    system.stopped = True
    return [a.status_code for a in answers]


def test_the_banner_shows_the_panel_and_the_generated_password_only_on_the_first_start(make_run, capsys):
    first, system = make_run(capsys)
    assert "Mostrador is running: panel http://127.0.0.1:8765/" in first
    assert "customer simulator http://127.0.0.1:8765/simulator" in first
    assert "user: admin" in first
    password = re.search(r"password: (\S+)", first).group(1)
    # the printed password is the admin's
    assert asyncio.run(logins(system, ("admin", password), ("admin", password + "x"))) == [200, 401]

    second, _ = make_run(capsys)  # the same DATA_DIR: the admin exists, its password is not shown again
    assert "panel http://127.0.0.1:8765/" in second
    assert password not in second and "password:" not in second
    assert "Log in with your panel user." in second


def test_the_banner_names_the_configured_admin(make_run, capsys, monkeypatch):
    monkeypatch.setenv("ADMIN_USERNAME", "ana")
    monkeypatch.setenv("ADMIN_PASSWORD", "ana-secret-password")
    printed, _ = make_run(capsys)
    assert "panel http://127.0.0.1:8765/" in printed and "Log in as ana." in printed
    assert "ana-secret-password" not in printed and "password:" not in printed
