"""GET /api/stream: server-sent events with the board's and the chats' changes, live.

Changes come from the projections' worker threads (embedded mode) or from panel.changes' listener
(PostgreSQL: every panel-api process hears every change); ``StreamHub.notify`` hops onto the event loop with
``call_soon_threadsafe`` and files the change with every connected client. Each client coalesces
what piled up (one entry per ticket / message) and is sent at most ``max_rate`` pushes a second,
each push one ``changes`` event with the fresh rows — already filtered by the user's branches, so
a ticket outside them never leaves the server. Comments every ``ping`` seconds keep proxies from
closing an idle stream; the browser's EventSource reconnects by itself."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import structlog
from fastapi import APIRouter, Request
from sse_starlette.sse import EventSourceResponse

from mostrador.panel_api import present
from mostrador.panel_api.api import in_scope
from mostrador.panel_api.auth import principal
from mostrador.panel_api.routing import DOCUMENT_AUTH, error_responses
from mostrador.panel_api.views import PanelViews

log = structlog.get_logger("panel.stream")
MAX_PENDING = 5000  # past this a slow client is told to reload instead of being sent every change
RECHECK_SECONDS = 5.0  # how stale a stream's view of its session (revoked? branches changed?) may get


class Client:
    def __init__(self, scope: list[str] | None, session_id: str = "") -> None:
        self.scope, self.session_id = scope, session_id
        self.tickets: set[int] = set()
        self.messages: dict[str, int] = {}  # message_id -> ticket number
        self.overflow = False
        self.wake = asyncio.Event()

    def add(self, change: dict[str, Any]) -> None:
        number = change.get("number")
        if number is None:
            return  # a message not filed under a ticket has no branch: nobody's board shows it
        self.tickets.add(int(number))
        if change.get("kind") == "message":
            self.messages[change["message_id"]] = int(number)
        if len(self.tickets) + len(self.messages) > MAX_PENDING:
            self.reset()
        self.wake.set()

    def reset(self) -> None:
        self.overflow = True
        self.tickets.clear()
        self.messages.clear()
        self.wake.set()

    def take(self) -> tuple[set[int], dict[str, int], bool]:
        taken = self.tickets, self.messages, self.overflow
        self.tickets, self.messages, self.overflow = set(), {}, False
        self.wake.clear()
        return taken


class StreamHub:
    def __init__(self, views: PanelViews, *, max_rate: float = 10.0, ping: float = 15.0,
                 session_user: Callable[[str], Any] | None = None, recheck: float = RECHECK_SECONDS) -> None:
        self.views, self.interval, self.ping = views, 1.0 / max_rate, ping
        self.session_user, self.recheck = session_user, recheck
        self.clients: set[Client] = set()
        self.loop: asyncio.AbstractEventLoop | None = None

    async def bind(self) -> None:
        """Called at start, on the loop that serves HTTP."""
        self.loop = asyncio.get_running_loop()

    def notify(self, change: dict[str, Any]) -> None:
        loop = self.loop
        if loop is None or not self.clients:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed during shutdown
            loop.call_soon_threadsafe(self._dispatch, change)

    def _dispatch(self, change: dict[str, Any]) -> None:
        for client in self.clients:
            client.add(change)

    def reset(self) -> None:
        """Changes may have been missed (panel.changes): every stream reloads its board."""
        for client in self.clients:
            client.reset()

    def render(self, client: Client, numbers: set[int], messages: dict[str, int]) -> dict[str, Any] | None:
        """The rows behind a batch of notices, only those in the client's branches (runs in a thread)."""
        visible: dict[int, Any] = {}
        for number in sorted(numbers):
            row = self.views.ticket(number)
            if row is not None and in_scope(row["branch"], client.scope):
                visible[number] = present.summary(row).model_dump(mode="json")
        out = []
        for message_id, number in messages.items():
            if number in visible:
                state = self.views.message(message_id)
                if state is not None:
                    out.append({"number": number, "message": present.message(state).model_dump(mode="json")})
        if not visible:
            return None
        return {"tickets": list(visible.values()), "messages": out,
                "unread": self.views.unread_count(client.scope)}

    async def still_allowed(self, client: Client) -> bool:
        """Re-read the session: revoked or expired ends the stream; new branches apply at once."""
        if self.session_user is None:
            return True
        user = await asyncio.to_thread(self.session_user, client.session_id)
        if user is None:
            return False
        client.scope = user.scope
        return True

    async def events(self, client: Client) -> AsyncIterator[dict[str, str]]:
        self.clients.add(client)
        last = 0.0
        try:
            yield {"event": "ready", "data": json.dumps({"unread": await asyncio.to_thread(
                self.views.unread_count, client.scope)})}
            while True:
                try:
                    await asyncio.wait_for(client.wake.wait(), self.recheck)
                except TimeoutError:
                    pass
                if not await self.still_allowed(client):
                    yield {"event": "logout", "data": "{}"}
                    return
                if not client.wake.is_set():
                    continue
                # Coalesce: whatever arrives before the next slot goes out together.
                await asyncio.sleep(max(0.0, last + self.interval - time.monotonic()))
                numbers, messages, overflow = client.take()
                last = time.monotonic()
                if overflow:
                    yield {"event": "reset", "data": "{}"}
                    continue
                payload = await asyncio.to_thread(self.render, client, numbers, messages)
                if payload is not None:
                    yield {"event": "changes", "data": json.dumps(payload)}
        finally:
            self.clients.discard(client)


def stream_router(hub: StreamHub, route_class: type) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["stream"], route_class=route_class, dependencies=DOCUMENT_AUTH,
                       responses=error_responses(401))

    @router.get("/stream", response_class=EventSourceResponse,
                responses={200: {"content": {"text/event-stream": {}},
                                 "description": "events `ready`, `changes` {tickets, messages, unread}, `reset`, "
                                                "`logout`"}})
    async def stream(request: Request) -> EventSourceResponse:
        caller = principal(request)
        client = Client(caller.user.scope, caller.session.id)
        return EventSourceResponse(hub.events(client), ping=hub.ping, headers={"X-Accel-Buffering": "no"})

    return router
