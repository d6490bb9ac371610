"""Schemathesis over every operation of panel-api's /openapi.json, in process (its ASGI app on the
in-memory bus and SQLite, built as panel_rig builds it), as the admin by bearer token and as an
operator limited to one branch by session cookie and CSRF token, as the browser does: whatever it
sends, the answer is never a 5xx and always one the schema documents — status code, content type,
headers and body — and a request the schema forbids is refused.

The routes have data to find (tickets in both branches and unassigned, every kind of message, stored
media, users), and the command side answers as tickets and chat do: the new state, or their refusals
(404, 409, 422), so the API's mapping of those is fuzzed too. Bounded and deterministic: a fixed seed,
derandomized, at most EXAMPLES generated cases per operation (plus schemathesis' coverage cases), no
example database."""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import strategies as st
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mostrador.events.bus import CommandError
from mostrador.events.memory import InMemoryBus
from mostrador.events.schemas.chat import ConversationState, MessageRecorded, MessageState
from mostrador.events.schemas.common import (
    Actor,
    ApiError,
    ButtonOption,
    ListRow,
    ListSection,
    Location,
    OutboundContent,
    TemplateSpec,
)
from mostrador.events.schemas.ingest import InteractiveReply, Media
from mostrador.events.schemas.tickets import StatusChange, TicketDetails, TicketOpened, TicketState
from mostrador.panel_api.auth import COOKIE
from mostrador.panel_api.service import build
from mostrador.platform.clock import FakeClock
from mostrador.platform.http import create_app, start_all, stop_all
from mostrador.platform.service import Context
from mostrador.platform.settings import Settings
from mostrador.tickets.domainmodel import TRANSITIONS  # the tickets service's own rule, for its stand-in
from tests.service.conftest import INFRASTRUCTURE
from tests.service.panel.panel_rig import (
    ADMIN,
    ADMIN_PW,
    CATALOG,
    PASSWORD,
    T0,
    FakeCommands,
    Panel,
    conversation,
    inbound,
    outbound,
    ticket_state,
    wait_for,
)

pytestmark = [pytest.mark.service, pytest.mark.timeout(300)]

SEED = 20260915
EXAMPLES = 25
NOW = T0 + timedelta(hours=1)
OPERATOR = "fuzz-ana"  # centro only
# The seeded data, by the names path parameters use (see flatmap_path_parameters).
NUMBERS = [1, 2, 3, 4, 5, 6]
MESSAGES = {"msg-1": 1, "msg-2": 1, "msg-3": 1, "msg-4": 2, "msg-5": 2, "msg-6": 2, "msg-7": 3, "msg-8": 4,
            "msg-9": 4, "msg-10": 5, "msg-11": 5, "msg-12": 6}
MEDIA_IDS = ["media-img", "media-audio", "media-doc", "media-missing"]
USERNAMES = [ADMIN, OPERATOR]  # the only admin: deactivating or demoting it is the 409 last_admin
# Not positive_data_acceptance: the API rightly answers 422 to values no static schema can rule out (a
# branch or topic that is not in the bot's catalog, a date that does not parse, a forged cursor) and 409
# to a username that is taken; those are documented 4xx, which the checks here hold to their schema.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection]
# Each case of these gets a session of its own: they end it (logout) or may close the others (password).
SESSION_ENDERS = {("POST", "/api/auth/logout"), ("POST", "/api/auth/password")}


class Rig:
    """panel-api as panel_rig builds it; the ASGI lifespan, which schemathesis runs on its own event loop,
    starts it and seeds it through the bus. tickets and chat are FakeCommands answering from that state."""

    def __init__(self, data_dir: Path) -> None:
        settings = Settings(data_dir=data_dir, admin_username=ADMIN, admin_password=SecretStr(ADMIN_PW),
                            login_max_failures=5, login_lockout_seconds=60, session_hours=2)
        self.bus, self.clock = InMemoryBus(), FakeClock(NOW)
        self.tickets, self.chat = FakeCommands(), FakeCommands()
        self.bus.serve("tickets", self.tickets)
        self.bus.serve("chat", self.chat)
        self.media: dict[str, tuple[bytes, str]] = {}

        async def no_sleep(seconds: float) -> None:
            return None

        async def fetch_media(media_id: str):
            return self.media.get(media_id)

        # The stream pings and rechecks often, so a cut-short stream ends at once.
        ctx = Context(settings=settings, bus=self.bus, clock=self.clock,
                      extras={"panel_catalog": CATALOG, "panel_sleep": no_sleep, "panel_command_timeout": 2.0,
                              "panel_sse_ping": 0.05, "panel_sse_recheck": 0.05, "panel_media_fetch": fetch_media})
        self.service = build(ctx)
        self.app = create_app("panel-fuzz", self.bus, [self.service], manage_lifecycle=False)
        self.panel = Panel(self.app, self.bus, self.service, self.clock, self.tickets, self.chat, media=self.media)
        self.users, self.views = self.service.parts["users"], self.service.parts["views"]
        self.conversations: dict[int, ConversationState] = {}
        self.messages: dict[str, MessageState] = {}
        self.sessions: dict[str, dict[str, str]] = {}  # username -> its bearer token or cookie + CSRF token
        self.program()

        @contextlib.asynccontextmanager
        async def lifespan(app):
            await start_all(self.bus, [self.service])
            try:
                await self.seed()
                yield
            finally:
                await stop_all(self.bus, [self.service])

        self.app.router.lifespan_context = lifespan

    # -- data ------------------------------------------------------------------------------------

    async def seed(self) -> None:
        self.users.create(OPERATOR, "Ana Fuzz", PASSWORD, "operator", ["centro"])
        operator = Actor(kind="operator", id=ADMIN, name="Administrador")
        tickets = {s.number: s for s in [
            ticket_state(1, status="COMPLETO", branch="centro",
                         details=TicketDetails(delivery="delivery", address="Corrientes 1234", order="2 pizzas",
                                               name="Lucía Fernández",
                                               location=Location(latitude=-34.6, longitude=-58.4, name="Casa"))),
            ticket_state(2, status="EN PROCESO", branch="centro", version=2,
                         history=[StatusChange(from_status="COMPLETO", to_status="EN PROCESO", at=T0, by=operator)]),
            ticket_state(3, status="FACTURADO", branch="centro"),
            ticket_state(4, status="EN PROCESO", branch="palermo", type="AYUDA", topic="estado"),
            ticket_state(5, status="INCOMPLETO", branch=None, type="AYUDA", topic="reclamo",
                         missing=["branch", "name"]),
            ticket_state(6, status="COMPLETO", branch="palermo"),
        ]}
        assert sorted(tickets) == NUMBERS
        for state in tickets.values():  # published all at once, waited for once: each rig is seeded anew
            await self.panel.publish(TicketOpened(ticket=state), state.ticket_id, state.version)
            closes = NOW + timedelta(hours=20) if state.number in (1, 2, 6) else NOW - timedelta(hours=2)
            self.conversations[state.number] = conversation(state, unread=state.number % 3, window_closes=closes)
        t = tickets
        messages = [
            inbound(t[1], "quiero 2 pizzas <script>alert(1)</script>"),
            outbound(t[1], OutboundContent(kind="buttons", text="¿Confirmás?",
                                           buttons=[ButtonOption(id="ok", title="Confirmar"),
                                                    ButtonOption(id="no", title="Cancelar")]), status="read"),
            inbound(t[1], None, type="interactive",
                    interactive=InteractiveReply(kind="button_reply", id="ok", title="Confirmar")),
            inbound(t[2], None, type="image", media=Media(id="media-img", mime_type="image/jpeg",
                                                           caption="el comprobante")),
            outbound(t[2], OutboundContent(kind="text", text="precio?"), status="failed", author=operator,
                     error=ApiError(code=131047, title="Re-engagement message").model_dump()),
            outbound(t[2], OutboundContent(kind="list", text="Elegí sucursal", list_button="Ver",
                                           sections=[ListSection(rows=[ListRow(id="centro", title="Centro")])]),
                     status="delivered"),
            inbound(t[3], None, type="location", location=Location(latitude=-34.6, longitude=-58.4)),
            inbound(t[4], None, type="audio", media=Media(id="media-audio", mime_type="audio/ogg", voice=True)),
            outbound(t[4], OutboundContent(kind="text", text="hola"), status="failed", author=operator),
            inbound(t[5], None, type="document", media=Media(id="media-doc", mime_type="text/html",
                                                              filename="x.html")),
            outbound(t[5], OutboundContent(kind="template", template=TemplateSpec(name="retomar_contacto"))),
            inbound(t[6], None, type="image", media=Media(id="media-missing", mime_type="image/png")),
        ]
        assert [m.number for m in messages] == list(MESSAGES.values())
        for message_id, message in zip(MESSAGES, messages, strict=True):
            message = message.model_copy(update={"message_id": message_id})
            conv = self.conversations[message.number]
            conv = self.conversations[message.number] = conv.model_copy(update={"version": conv.version + 1})
            await self.panel.publish(MessageRecorded(message=message, conversation=conv), message_id, message.version)
            self.messages[message_id] = message
        await wait_for(lambda: all(self.views.ticket(n) for n in NUMBERS)
                       and all(self.views.message(m) for m in MESSAGES))
        # media-missing: ingest has not stored it (yet)
        self.media.update({"media-img": (b"\xff\xd8\xff", "image/jpeg"), "media-audio": (b"OggS", "audio/ogg"),
                           "media-doc": (b"<html><script>", "text/html")})

    # -- tickets and chat ------------------------------------------------------------------------

    def program(self) -> None:
        """The command side as tickets and chat answer it (mostrador.events.commands)."""

        def ticket(number: int) -> TicketState:
            row = self.views.ticket(number)
            if row is None:
                raise CommandError("not_found", f"ticket {number} not found", 404)
            return TicketState.model_validate_json(row["state"])

        def chat_conversation(number: int) -> ConversationState:
            ticket(number)
            if number == 5:  # the unassigned ticket's customer has not reached chat: its own 404
                raise CommandError("not_found", f"ticket {number} not found", 404)
            return self.conversations[number]

        def window_open(conv: ConversationState) -> bool:
            return conv.window_closes_at is not None and conv.window_closes_at > self.clock.now()

        def pending(number: int, content: OutboundContent, actor: dict[str, Any]) -> dict[str, Any]:
            return outbound(ticket(number), content, author=Actor.model_validate(actor), status="pending",
                            message_id=str(uuid.uuid4())).model_dump(mode="json")

        def change_status(body: dict[str, Any]) -> dict[str, Any]:
            state, to = ticket(body["number"]), body["status"]
            if "operator" not in TRANSITIONS.get((state.status, to), frozenset()):
                raise CommandError("invalid_transition", f"cannot change status from {state.status} to {to}", 409,
                                   {"current": state.status, "requested": to})
            change = StatusChange(from_status=state.status, to_status=to, at=self.clock.now(),
                                  by=Actor.model_validate(body["actor"]))
            return state.model_copy(update={"status": to, "version": state.version + 1,
                                            "history": [*state.history, change]}).model_dump(mode="json")

        def send_text(body: dict[str, Any]) -> dict[str, Any]:
            conv = chat_conversation(body["number"])
            if not body["text"].strip():
                raise CommandError("invalid_command", "text: write something", 422)
            if ticket(body["number"]).status != "EN PROCESO":
                raise CommandError("not_in_process", "take the ticket (EN PROCESO) before writing", 409)
            if not window_open(conv):
                raise CommandError("window_closed", "the 24-hour window is closed: resume the conversation", 409)
            return pending(body["number"], OutboundContent(kind="text", text=body["text"]), body["actor"])

        def resume(body: dict[str, Any]) -> dict[str, Any]:
            if window_open(chat_conversation(body["number"])):
                raise CommandError("window_open", "the 24-hour window is still open: write in the chat instead", 409)
            content = OutboundContent(kind="template", template=TemplateSpec(name="retomar_contacto"))
            return pending(body["number"], content, body["actor"])

        def retry(body: dict[str, Any]) -> dict[str, Any]:
            conv = chat_conversation(body["number"])
            message = self.messages.get(body["message_id"])
            if message is None or message.number != body["number"]:
                raise CommandError("not_found", f"no message {body['message_id']} in this conversation", 404)
            if message.direction != "out" or message.status != "failed":
                raise CommandError("not_failed", "only a failed message can be sent again; this one is "
                                                 f"{message.status}", 409)
            if not window_open(conv):
                raise CommandError("window_closed", "the 24-hour window is closed: resume the conversation", 409)
            return message.model_copy(update={"status": "pending", "version": message.version + 1, "error": None,
                                              "attempts": message.attempts + 1}).model_dump(mode="json")

        def mark_read(body: dict[str, Any]) -> dict[str, Any]:
            conv = chat_conversation(body["number"])
            read = self.conversations[body["number"]] = conv.model_copy(update={"unread": 0,
                                                                                "version": conv.version + 1})
            return read.model_dump(mode="json")

        self.tickets.answers["change_status"] = change_status
        self.chat.answers.update({"send_text": send_text, "resume": resume, "retry": retry, "mark_read": mark_read})

    # -- who calls -------------------------------------------------------------------------------

    def log_in(self) -> None:
        """Both callers log in through the API; this also starts the rig (the lifespan)."""
        with asgi.get_client(self.app) as client:
            for username, password in ((ADMIN, ADMIN_PW), (OPERATOR, PASSWORD)):
                response = client.post("/api/auth/login", json={"username": username, "password": password})
                assert response.status_code == 200, response.text
                body = response.json()
                self.sessions[username] = {"bearer": body["access_token"]} if username == ADMIN else \
                    {"cookie": response.cookies[COOKIE], "csrf": body["csrf_token"]}

    def credentials(self, username: str, *, fresh: bool) -> dict[str, Any]:
        """The caller's live session as call() arguments. The fuzz may have ended it (logout, a password
        reset, revoke-sessions) or changed the user (PATCH) as the admin: then the user is put back and a
        session opened directly, since the fuzzed login may have locked the test client out (429)."""
        wanted = {"role": "admin", "branches": None, "active": True} if username == ADMIN else \
            {"role": "operator", "branches": ["centro"], "active": True}
        user = self.users.get(username)
        if any(getattr(user, name) != value for name, value in wanted.items()):
            self.users.update(username, **wanted)
        session = self.sessions[username]
        live = self.users.resolve(session["bearer"], "bearer") if "bearer" in session else \
            self.users.resolve(session["cookie"], "cookie")
        if fresh or live is None:
            new = self.users.open_session(username)
            session = {"bearer": new.bearer_token} if username == ADMIN else \
                {"cookie": new.cookie_token, "csrf": new.session.csrf_token}
            if not fresh:
                self.sessions[username] = session
        if "bearer" in session:
            return {"headers": {"Authorization": f"Bearer {session['bearer']}"}}
        return {"headers": {"X-CSRF-Token": session["csrf"]}, "cookies": {COOKIE: session["cookie"]}}


def served_openapi() -> dict[str, Any]:
    """The OpenAPI document the panel serves, from a rig built (not started) and dropped at collection
    time: schemathesis makes one test per operation from it."""
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as env:
        for name in INFRASTRUCTURE:  # SQLite, as tests/service/conftest.py makes sure for every test
            env.delenv(name, raising=False)
        rig = Rig(Path(tmp))
        try:
            return rig.app.openapi()
        finally:
            rig.service.parts["db"].close()


OPENAPI = served_openapi()
schema = schemathesis.openapi.from_dict(OPENAPI, config=schemathesis.Config.from_dict({
    "seed": SEED,
    "suppress-health-check": ["all"],
    # The credentials are the callers' (call() sends them), not generated.
    "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none",
                   "with-security-parameters": False},
    # GET /api/stream never ends by itself: its first event (`ready`) is enough to check the response.
    "operations": [{"include-path": "/api/stream", "max-stream-events": 1, "request-timeout": 5}],
}))
TICKET_FILTERS = {
    "branch": st.lists(st.sampled_from(sorted(CATALOG.branch_ids())), min_size=1, max_size=2, unique=True),
    "topic": st.lists(st.sampled_from(sorted(CATALOG.topic_ids())), min_size=1, max_size=2, unique=True),
    "name": st.sampled_from(["luc", "Lucía fer", "cliente"]),
    "from": st.sampled_from(["2026-09-15", "2026-09-15T09:00:00-03:00"]),
    "to": st.sampled_from(["2026-09-16", "2026-09-15T12:05:00Z"]),
}


@schema.hook
def flatmap_path_parameters(context, path_parameters: dict[str, Any] | None):
    """Half the time the path names seeded data, so what is behind the 404 gets fuzzed too."""
    names = set(path_parameters or {})
    if "message_id" in names:
        seeded = st.sampled_from(sorted(MESSAGES.items())).map(lambda m: {"message_id": m[0], "number": m[1]})
    elif names & {"number", "media_id", "username"}:
        samples = {"number": NUMBERS, "media_id": MEDIA_IDS, "username": USERNAMES}
        seeded = st.fixed_dictionaries({name: st.sampled_from(samples[name]) for name in names if name in samples})
    else:
        return st.just(path_parameters)
    return st.one_of(st.just(path_parameters), seeded.map(lambda chosen: {**path_parameters, **chosen}))


@schema.hook
def flatmap_query(context, query: dict[str, Any] | None):
    """Half the time the board's filters name the catalog, real dates and names, so pages of tickets come
    back (not only the 422 of an unknown branch) and their bodies are checked."""
    if context.operation.path != "/api/tickets" or not query or not set(query) & set(TICKET_FILTERS):
        return st.just(query)
    real = st.fixed_dictionaries({name: TICKET_FILTERS[name] for name in query if name in TICKET_FILTERS})
    return st.one_of(st.just(query), real.map(lambda chosen: {**query, **chosen}))


@pytest.fixture
def rig(tmp_path):
    """A fresh rig for each operation's test: schemathesis ends an ASGI app's lifespan with the test."""
    rig = Rig(tmp_path)
    rig.log_in()
    yield rig
    asgi.shutdown_lifespans()  # schemathesis' pytest plugin has done it already; this is for other runners


def fuzz(case, rig: Rig, username: str) -> None:
    fresh = (case.method.upper(), case.path) in SESSION_ENDERS
    case.call_and_validate(app=rig.app, checks=CHECKS, **rig.credentials(username, fresh=fresh))


@schema.parametrize()
def test_every_route_as_the_admin_by_bearer_token(case, rig):
    fuzz(case, rig, ADMIN)


@schema.parametrize()
def test_every_route_as_a_centro_operator_by_session_cookie(case, rig):
    fuzz(case, rig, OPERATOR)


async def test_the_fuzzed_schema_is_the_one_served_at_openapi_json(panel):
    response = await panel.client().get("/openapi.json")
    assert response.status_code == 200
    served = response.json()
    assert {**served, "info": None} == {**OPENAPI, "info": None}  # the title names the test app
