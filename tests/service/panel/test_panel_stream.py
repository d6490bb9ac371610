"""GET /api/stream over a real HTTP server: live changes, scoped to the user's branches, coalesced,
with heartbeats; plus the UI's security headers and static files."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from datetime import timedelta

import httpx
import pytest
import uvicorn

from mostrador.events.envelope import new_envelope
from mostrador.events.schemas.scheduler import WindowClosed
from mostrador.events.schemas.tickets import TicketOpened
from mostrador.panel_api.handlers import ProjectionHandlers
from mostrador.panel_api.security import SECURITY_HEADERS
from tests.service.panel.panel_rig import ADMIN, ADMIN_PW, PASSWORD, T0, conversation, inbound, ticket_state

pytestmark = pytest.mark.service


@contextlib.asynccontextmanager
async def http_server(app):
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_config=None,
                                           access_log=False))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(task, 5)


class Events:
    """Reads one SSE response: events (name, data) and heartbeat comments, as they come."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()
        self.comments = 0

    async def next(self, timeout: float = 3.0) -> tuple[str, dict]:
        name, data = "message", ""
        async with asyncio.timeout(timeout):
            async for line in self.lines:
                if line.startswith(":"):
                    self.comments += 1
                elif line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif line == "" and data:
                    return name, json.loads(data)
        raise AssertionError("stream ended")

    async def changes_until(self, predicate, timeout: float = 3.0) -> list[dict]:
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            name, data = await self.next(max(0.05, deadline - time.monotonic()))
            if name == "changes":
                seen.append(data)
                if predicate(seen):
                    return seen


async def logged_in(base: str, username: str, password: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=5)
    response = await client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200
    return client


def numbers_in(pushes: list[dict]) -> set[int]:
    return {t["number"] for push in pushes for t in push["tickets"]}


async def test_stream_delivers_changes_scoped_to_the_users_branches(panel):
    panel.users.create("ana", "Ana", PASSWORD, "operator", ["centro"])
    async with http_server(panel.app) as base:
        admin, ana = await logged_in(base, ADMIN, ADMIN_PW), await logged_in(base, "ana", PASSWORD)
        anonymous = await httpx.AsyncClient(base_url=base).get("/api/stream")
        assert anonymous.status_code == 401
        async with admin.stream("GET", "/api/stream") as a_resp, ana.stream("GET", "/api/stream") as b_resp:
            assert a_resp.headers["content-type"].startswith("text/event-stream")
            admin_events, ana_events = Events(a_resp), Events(b_resp)
            assert (await admin_events.next())[0] == "ready"
            assert (await ana_events.next()) == ("ready", {"unread": 0})

            palermo = await panel.ticket(ticket_state(1, branch="palermo", phone="5491100000001"))
            centro = await panel.ticket(ticket_state(2, branch="centro", phone="5491100000002"))
            await panel.message(inbound(palermo, "secreto de palermo"), conversation(palermo, unread=1))
            await panel.message(inbound(centro, "hola centro"), conversation(centro, unread=1))

            pushes = await admin_events.changes_until(lambda s: numbers_in(s) >= {1, 2} and sum(
                len(p["messages"]) for p in s) >= 2)
            assert {m["message"]["text"] for p in pushes for m in p["messages"]} == {"secreto de palermo", "hola centro"}
            assert pushes[-1]["unread"] == 2

            ana_pushes = await ana_events.changes_until(lambda s: any(p["messages"] for p in s))
            await asyncio.sleep(0.3)  # anything about palermo would have been pushed by now
            with contextlib.suppress(TimeoutError):
                ana_pushes += await ana_events.changes_until(lambda s: False, timeout=0.3)
            assert numbers_in(ana_pushes) == {2}
            assert all(m["number"] == 2 for p in ana_pushes for m in p["messages"])
            assert "secreto" not in json.dumps(ana_pushes)
            assert ana_pushes[-1]["unread"] == 1
            assert ana_events.comments >= 1  # heartbeats (every 0.2 s in the rig)
        await admin.aclose()
        await ana.aclose()


async def test_a_revoked_session_is_cut_off_the_stream(panel):
    panel.users.create("ana", "Ana", PASSWORD, "operator", ["centro"])
    async with http_server(panel.app) as base:
        ana = await logged_in(base, "ana", PASSWORD)
        async with ana.stream("GET", "/api/stream") as response:
            events = Events(response)
            assert (await events.next())[0] == "ready"
            panel.users.update("ana", branches=["centro", "palermo"])  # takes effect without reconnecting
            await asyncio.sleep(0.4)
            await panel.ticket(ticket_state(7, branch="palermo"))
            assert numbers_in(await events.changes_until(lambda s: True)) == {7}
            panel.users.revoke_all("ana")
            name, _ = await events.next(timeout=2)
            assert name == "logout"
            with pytest.raises(AssertionError, match="stream ended"):
                await events.next(timeout=2)
        await ana.aclose()


async def test_bursts_are_coalesced_to_at_most_ten_pushes_a_second(panel):
    async with http_server(panel.app) as base:
        admin = await logged_in(base, ADMIN, ADMIN_PW)
        async with admin.stream("GET", "/api/stream") as response:
            events = Events(response)
            await events.next()
            started = time.monotonic()
            for number in range(1, 61):
                await panel.publish(TicketOpened(ticket=ticket_state(number)), f"t{number}")
            pushes = await events.changes_until(lambda s: len(numbers_in(s)) == 60, timeout=5)
            elapsed = time.monotonic() - started
            assert numbers_in(pushes) == set(range(1, 61))
            assert len(pushes) <= elapsed * 10 + 2, (len(pushes), elapsed)
            assert len(pushes) < 60  # coalesced, not one push per change
        await admin.aclose()


async def test_ui_is_served_with_security_headers_and_no_inline_code(panel):
    client = panel.client()
    index = await client.get("/")
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    for name, value in SECURITY_HEADERS.items():
        assert index.headers[name] == value
    csp = index.headers["Content-Security-Policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'",
                      "img-src 'self' data: blob:", "connect-src 'self'"):
        assert directive in csp
    assert "unsafe-inline" not in csp
    html = index.text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # every script is a file
    assert not re.search(r"\sstyle=|\son[a-z]+=", html)  # no inline styles or handlers
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        response = await client.get(asset)
        assert response.status_code == 200, asset
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    js = await client.get("/static/js/main.js")
    assert js.headers["content-type"].startswith("text/javascript")
    assert (await client.get("/static/../service.py")).status_code == 404
    assert (await client.get("/static/js/nope.js")).status_code == 404


def test_ui_code_never_parses_strings_as_html():
    from pathlib import Path

    import mostrador.panel_api as pkg

    for path in (Path(pkg.__file__).parent / "static" / "js").glob("*.js"):
        source = path.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in source, (path.name, sink)


async def window_closed(panel, state, *, last_inbound, closed) -> None:
    notice = WindowClosed(customer_key=state.customer.key, ticket_id=state.ticket_id, number=state.number,
                          last_inbound_at=last_inbound, closed_at=closed)
    await panel.publish(notice, state.customer.key)


async def test_the_schedulers_window_closed_closes_the_chat_and_is_pushed_live(panel):
    async with http_server(panel.app) as base:
        admin = await logged_in(base, ADMIN, ADMIN_PW)
        lucia = await panel.ticket(ticket_state(5, status="EN PROCESO", phone="5491100000005"))
        await panel.message(inbound(lucia), conversation(lucia))  # wrote at T0: open until T0 + 24 h
        assert (await admin.get("/api/tickets/5")).json()["window"]["open"] is True
        async with admin.stream("GET", "/api/stream") as response:
            events = Events(response)
            assert (await events.next())[0] == "ready"
            # A shorter configured window: closed at T0 + 30 min; the panel clock says T0 + 1 h.
            await window_closed(panel, lucia, last_inbound=T0, closed=T0 + timedelta(minutes=30))
            pushes = await events.changes_until(lambda s: 5 in numbers_in(s))
            assert [t["status"] for p in pushes for t in p["tickets"] if t["number"] == 5] == ["EN PROCESO"]
        window = (await admin.get("/api/tickets/5")).json()["window"]
        assert window == {"open": False, "closes_at": (T0 + timedelta(minutes=30)).isoformat()}
        assert (await admin.get("/api/tickets/5/messages")).json()["window"]["open"] is False
        await admin.aclose()


async def test_a_window_closed_notice_older_than_the_customers_last_message_changes_nothing(panel):
    client = await panel.admin()
    lucia = await panel.ticket(ticket_state(6, status="EN PROCESO", phone="5491100000006"))
    wrote_again = conversation(lucia, window_closes=T0 + timedelta(hours=25))  # last wrote at T0 + 1 h
    await panel.message(inbound(lucia), wrote_again)
    notice = WindowClosed(customer_key=lucia.customer.key, number=6, last_inbound_at=T0,
                          closed_at=T0 + timedelta(minutes=30))
    ProjectionHandlers(panel.views).apply(new_envelope(notice, producer="scheduler", aggregate_id="k"))
    window = (await client.get("/api/tickets/6")).json()["window"]
    assert window == {"open": True, "closes_at": (T0 + timedelta(hours=25)).isoformat()}
