"""/api: the Pedidos board, a ticket's details and conversation, and the operator's actions.

Every ticket route goes through ``visible_ticket``: a ticket outside the caller's branches is a 404,
the same answer as a ticket that does not exist (ASVS 4.2.1, no existence leak). Actions are
commands to the owning service (tickets, chat) over the bus; their refusals come back as
``CommandError`` and leave as ``{"error": code}`` with the command's status (409 …)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from mostrador.events.bus import CommandError, unwrap_reply
from mostrador.events.commands import ChangeStatus, Command, MarkRead, Resume, RetrySend, SendText
from mostrador.events.schemas.chat import ConversationState, MessageState
from mostrador.events.schemas.tickets import TicketState, TicketStatus, TicketType
from mostrador.panel_api import present
from mostrador.panel_api.auth import Principal, principal
from mostrador.panel_api.board import BadCursor, BoardQuery, list_tickets_async
from mostrador.panel_api.catalog import Catalog
from mostrador.panel_api.filters import BadDate, name_words, opened_bound
from mostrador.panel_api.models import (
    AcceptedOut,
    BranchOut,
    MessagesOut,
    ReadOut,
    SendIn,
    StatusIn,
    TicketDetail,
    TicketPage,
    TopicOut,
    UnreadOut,
)
from mostrador.panel_api.routing import DOCUMENT_AUTH, ApiError, error_responses, not_found
from mostrador.panel_api.views import PanelViews

Number = Annotated[int, Path(ge=1, le=2**53)]
# What a route that sends a command can answer besides its own: a cookie write without its CSRF token
# (403); the owning service failed on it (502), the bus is down (503) or nobody answered in time (504).
COMMAND_ERRORS = (403, 502, 503, 504)
MediaFetch = Callable[[str], Awaitable[tuple[bytes, str] | None]]
SAFE_MEDIA = ("image/", "audio/", "video/", "application/pdf")
# Every type GET /api/media can answer with: the safe ones as stored, anything else as a download.
MEDIA_RESPONSE = {
    "description": "the stored media: images, audio, video and PDFs as stored; any other type as an "
                   "application/octet-stream attachment",
    "content": {media_type: {"schema": {"type": "string", "format": "binary"}}
                for media_type in ("image/*", "audio/*", "video/*", "application/pdf", "application/octet-stream")},
}


def in_scope(branch: str | None, scope: list[str] | None) -> bool:
    """None scope: every ticket, unassigned ones included; else only tickets of those branches."""
    return scope is None or (branch is not None and branch in scope)


# How long a chat command waits for chat to hear that the ticket is EN PROCESO (in_process_command).
CHAT_CATCH_UP_SECONDS = 3.0


class Commands:
    """Request/reply to the services that own the state (mostrador.events.commands); a reply's
    error raises CommandError, mapped to HTTP by the route class."""

    def __init__(self, bus, timeout: float) -> None:
        self.bus, self.timeout = bus, timeout

    async def __call__(self, service: str, command: Command) -> Any:
        reply = await self.bus.request(service, command.NAME, command.body(), timeout=self.timeout)
        return unwrap_reply(reply)


LISTS = {"branch": "branches", "topic": "topics"}  # where a client finds the known values


def known_values(name: str, wanted: list[str] | None, known: set[str]) -> None:
    """An unknown branch or topic is a 422, like an unknown status, not an empty page. The ids are the
    bot's catalog, which customers pick from, so telling "no such branch" leaks nothing; a branch outside
    the caller's scope is still a 404. No catalog (the bot config failed to load): nothing to check."""
    unknown = sorted(set(wanted or []) - known) if known else []
    if unknown:
        raise ApiError(422, "invalid", f"{name}: unknown {name} {unknown[0]!r} (see /api/{LISTS[name]})")


def opened_range(start: str | None, end: str | None) -> tuple[int | None, int | None]:
    """from/to as [from_ms, before_ms): 422 for a value that is not an ISO date or datetime, or a range
    that ends before it starts."""
    try:
        lo = opened_bound(start, end=False) if start else None
        hi = opened_bound(end, end=True) if end else None
    except BadDate as exc:
        raise ApiError(422, "invalid", str(exc)) from None
    if lo is not None and hi is not None and hi <= lo:
        raise ApiError(422, "invalid", "from/to: 'to' is before 'from'")
    return lo, hi


def tickets_router(views: PanelViews, commands: Commands, catalog: Catalog, clock, route_class: type,
                   fetch_media: MediaFetch) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["tickets"], route_class=route_class, dependencies=DOCUMENT_AUTH,
                       responses=error_responses(400, 401, 404, 422))

    async def visible_ticket(number: int, caller: Principal) -> dict[str, Any]:
        row = await asyncio.to_thread(views.ticket, number)
        if row is None or not in_scope(row["branch"], caller.user.scope):
            raise not_found(f"ticket {number}")
        return row

    async def apply(method: Callable[[Any], bool], model: type, result: Any) -> None:
        # Read-your-writes: the reply carries the new state, so the view has it before the event arrives.
        try:
            state = model.model_validate(result)
        except (ValueError, TypeError):
            return
        await asyncio.to_thread(method, state)

    @router.get("/tickets", response_model=TicketPage)
    async def tickets(
        request: Request,
        status: Annotated[list[TicketStatus] | None, Query()] = None,
        type: Annotated[list[TicketType] | None, Query()] = None,
        branch: Annotated[list[Annotated[str, Query(max_length=100)]] | None, Query(max_length=50)] = None,
        topic: Annotated[list[Annotated[str, Query(max_length=100)]] | None, Query(max_length=50)] = None,
        q: Annotated[str | None, Query(max_length=40, description="ticket number or phone (whole, start or end)")] = None,
        name: Annotated[str | None, Query(max_length=100, description=(
            "customer's name, any case: it starts with the first word and each next word starts a later "
            "word of it (\"luc\", \"lucía fer\", \"luc fer\")"))] = None,
        from_: Annotated[str | None, Query(alias="from", max_length=40, description=(
            "opened at or after: an ISO date (from its start) or datetime; UTC unless it has an offset"))] = None,
        to: Annotated[str | None, Query(max_length=40, description=(
            "opened at or before: an ISO date (through its end) or datetime; UTC unless it has an offset"))] = None,
        unread: bool = False,
        sort: Literal["newest", "last_message"] = "newest",
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> TicketPage:
        scope = principal(request).user.scope
        known_values("branch", branch, catalog.branch_ids())
        known_values("topic", topic, catalog.topic_ids())
        for wanted in branch or []:
            if not in_scope(wanted, scope):
                raise not_found(f"branch {wanted}")
        words = name_words(name) if name is not None else []
        if name is not None and not words:
            raise ApiError(422, "invalid", "name: type at least one letter or digit")
        opened_from, opened_before = opened_range(from_, to)
        query = BoardQuery(statuses=list(status or []), types=list(type or []), branches=branch or [],
                           topics=topic or [], q=q, name=words, opened_from_ms=opened_from,
                           opened_before_ms=opened_before, unread=unread, sort=sort, limit=limit, cursor=cursor,
                           allowed_branches=scope)
        try:
            page = await list_tickets_async(views.db, query)
        except BadCursor as exc:
            raise ApiError(422, "invalid", f"cursor: {exc}") from None
        return present.ticket_page(page)

    @router.get("/tickets/{number}", response_model=TicketDetail)
    async def ticket(number: Number, request: Request) -> TicketDetail:
        row = await visible_ticket(number, principal(request))
        return present.detail(row, present.now_ms(clock))

    @router.post("/tickets/{number}/status", response_model=TicketDetail,
                 responses=error_responses(*COMMAND_ERRORS, 409))
    async def change_status(number: Number, body: StatusIn, request: Request) -> TicketDetail:
        caller = principal(request)
        await visible_ticket(number, caller)
        result = await commands("tickets", ChangeStatus(actor=caller.actor, number=number, status=body.status))
        await apply(views.apply_ticket, TicketState, result)
        return present.detail(await visible_ticket(number, caller), present.now_ms(clock))

    @router.get("/tickets/{number}/messages", response_model=MessagesOut)
    async def messages(number: Number, request: Request) -> MessagesOut:
        row = await visible_ticket(number, principal(request))
        states = await asyncio.to_thread(views.messages, number)
        return MessagesOut(items=[present.message(s) for s in states], window=present.window(row, present.now_ms(clock)))

    async def in_process_command(row: dict[str, Any], command: Command) -> Any:
        """A chat command that needs the ticket EN PROCESO. Chat hears of a status change one event
        after tickets made it, so just after «Tomar» it may still say INCOMPLETO; when our own view
        (updated from tickets' reply) already says EN PROCESO, ask again for a moment — the same
        command id, so it is applied once — before passing the refusal on."""
        deadline = asyncio.get_running_loop().time() + CHAT_CATCH_UP_SECONDS
        while True:
            try:
                return await commands("chat", command)
            except CommandError as exc:
                late = exc.code == "not_in_process" and row["status"] == "EN PROCESO"
                if not late or asyncio.get_running_loop().time() > deadline:
                    raise
            await asyncio.sleep(0.05)

    async def accepted(result: Any) -> AcceptedOut:
        await apply(views.apply_message, MessageState, result)
        try:
            return AcceptedOut(message=present.message(MessageState.model_validate(result).model_dump(mode="json")))
        except (ValueError, TypeError, KeyError):
            return AcceptedOut()

    @router.post("/tickets/{number}/messages", response_model=AcceptedOut, status_code=202,
                 responses=error_responses(*COMMAND_ERRORS, 409))
    async def send(number: Number, body: SendIn, request: Request) -> AcceptedOut:
        caller = principal(request)
        row = await visible_ticket(number, caller)
        return await accepted(await in_process_command(row, SendText(actor=caller.actor, number=number,
                                                                     text=body.text)))

    @router.post("/tickets/{number}/resume", response_model=AcceptedOut, status_code=202,
                 responses=error_responses(*COMMAND_ERRORS, 409))
    async def resume(number: Number, request: Request) -> AcceptedOut:
        caller = principal(request)
        await visible_ticket(number, caller)
        return await accepted(await commands("chat", Resume(actor=caller.actor, number=number)))

    @router.post("/tickets/{number}/messages/{message_id}/retry", response_model=AcceptedOut, status_code=202,
                 responses=error_responses(*COMMAND_ERRORS, 409))
    async def retry(number: Number, message_id: Annotated[str, Path(max_length=100)], request: Request) -> AcceptedOut:
        caller = principal(request)
        row = await visible_ticket(number, caller)
        message = await asyncio.to_thread(views.message, message_id)
        if message is None or message.get("number") != number:
            raise not_found(f"message {message_id}")
        return await accepted(await in_process_command(row, RetrySend(actor=caller.actor, number=number,
                                                                      message_id=message_id)))

    @router.post("/tickets/{number}/read", response_model=ReadOut, responses=error_responses(*COMMAND_ERRORS))
    async def read(number: Number, request: Request) -> ReadOut:
        caller = principal(request)
        await visible_ticket(number, caller)
        result = await commands("chat", MarkRead(actor=caller.actor, number=number))
        await apply(views.apply_conversation, ConversationState, result)
        row = await visible_ticket(number, caller)
        return ReadOut(number=number, unread=row["unread"])

    @router.get("/unread", response_model=UnreadOut)
    async def unread(request: Request) -> UnreadOut:
        return UnreadOut(tickets=await asyncio.to_thread(views.unread_count, principal(request).user.scope))

    @router.get("/branches", response_model=list[BranchOut])
    async def branches(request: Request) -> list[BranchOut]:
        scope = principal(request).user.scope
        return [b for b in catalog.branches if scope is None or b.id in scope]

    @router.get("/topics", response_model=list[TopicOut])
    async def topics() -> list[TopicOut]:
        return catalog.topics

    @router.get("/media/{media_id}", response_class=Response, responses={200: MEDIA_RESPONSE})
    async def media(media_id: Annotated[str, Path(max_length=200)], request: Request) -> Response:
        number = await asyncio.to_thread(views.media_ticket, media_id)
        if number is None:
            raise not_found(f"media {media_id}")
        await visible_ticket(number, principal(request))
        found = await fetch_media(media_id)
        if found is None:
            raise not_found(f"media {media_id}")
        body, content_type = found
        if not content_type.startswith(SAFE_MEDIA):  # anything else downloads; it never renders in our origin
            return Response(body, media_type="application/octet-stream",
                            headers={"Content-Disposition": "attachment"})
        return Response(body, media_type=content_type, headers={"Cache-Control": "private, max-age=3600"})

    return router


def http_media_fetcher(base_url: str, token: str, timeout: float = 5.0) -> MediaFetch:
    """Media bytes from ingest (which stores inbound media); None when it is not there (yet)."""
    import httpx

    async def fetch(media_id: str) -> tuple[bytes, str] | None:
        try:
            async with httpx.AsyncClient(base_url=base_url, timeout=timeout,
                                         headers={"Authorization": f"Bearer {token}"}) as client:
                response = await client.get(f"/internal/media/{media_id}")
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        return response.content, response.headers.get("content-type", "application/octet-stream")

    return fetch
