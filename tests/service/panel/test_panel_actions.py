"""Operator actions as commands to tickets/chat, their refusals mapped to HTTP, and the conversation."""

from __future__ import annotations

import asyncio

import pytest

from mostrador.events.bus import CommandError
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
from mostrador.events.schemas.tickets import StatusChange
from tests.service.panel.panel_rig import T0, conversation, inbound, outbound, refuse, ticket_state

pytestmark = pytest.mark.service


@pytest.fixture
async def taken(panel):
    """Ticket 5, EN PROCESO in centro, with an open window; the admin's client."""
    state = await panel.ticket(ticket_state(5, status="EN PROCESO", branch="centro", phone="5491144445555"))
    await panel.message(inbound(state, "hola"), conversation(state))
    return state, await panel.admin()


async def test_status_change_goes_to_tickets_and_returns_the_ticket(panel, taken):
    state, admin = taken
    new_state = state.model_copy(update={"status": "FACTURADO", "version": 2, "history": [
        StatusChange(from_status="EN PROCESO", to_status="FACTURADO", at=T0, by=Actor(kind="operator", id="root"))]})
    panel.tickets.answers["change_status"] = lambda body: new_state.model_dump(mode="json")
    response = await admin.post("/api/tickets/5/status", json={"status": "FACTURADO"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "FACTURADO" and response.json()["history"][-1]["to_status"] == "FACTURADO"
    command, body = panel.tickets.calls[-1]
    assert command == "change_status" and body["number"] == 5 and body["status"] == "FACTURADO"
    assert body["actor"] == {"kind": "operator", "id": "root", "name": "Administrador"} and body["command_id"]
    # the board has the new state at once (read-your-writes), before the event arrives
    assert (await admin.get("/api/tickets", params={"status": "FACTURADO"})).json()["items"][0]["number"] == 5


async def test_refused_transition_is_409_with_the_commands_message(panel, taken):
    _, admin = taken
    panel.tickets.answers["change_status"] = refuse("invalid_transition", "ticket 5 is EN PROCESO: cannot go to COMPLETO")
    response = await admin.post("/api/tickets/5/status", json={"status": "COMPLETO"})
    assert response.status_code == 409
    assert response.json()["error"] == "invalid_transition" and "EN PROCESO" in response.json()["message"]
    unknown = await admin.post("/api/tickets/5/status", json={"status": "CERRADO"})
    assert unknown.status_code == 422 and len(panel.tickets.calls) == 1


async def test_send_text_is_202_with_the_pending_message(panel, taken):
    state, admin = taken
    pending = outbound(state, OutboundContent(kind="text", text="¡Hola! Ya sale"), status="pending",
                       author=Actor(kind="operator", id="root", name="Administrador"))
    panel.chat.answers["send_text"] = lambda body: pending.model_dump(mode="json")
    response = await admin.post("/api/tickets/5/messages", json={"text": "¡Hola! Ya sale"})
    assert response.status_code == 202
    message = response.json()["message"]
    assert message["status"] == "pending" and message["text"] == "¡Hola! Ya sale" and message["direction"] == "out"
    assert panel.chat.calls[-1][0] == "send_text" and panel.chat.calls[-1][1]["text"] == "¡Hola! Ya sale"
    items = (await admin.get("/api/tickets/5/messages")).json()["items"]
    assert [m["text"] for m in items] == ["hola", "¡Hola! Ya sale"]
    for bad in ({"text": ""}, {"text": "x" * 4097}, {}):
        assert (await admin.post("/api/tickets/5/messages", json=bad)).status_code == 422


@pytest.mark.parametrize("code", ["not_in_process", "window_closed"])
async def test_send_refusals_are_409(panel, taken, code, monkeypatch):
    from mostrador.panel_api import api
    monkeypatch.setattr(api, "CHAT_CATCH_UP_SECONDS", 0.2)
    _, admin = taken
    panel.chat.answers["send_text"] = refuse(code, f"refused: {code}")
    response = await admin.post("/api/tickets/5/messages", json={"text": "hola"})
    assert response.status_code == 409 and response.json() == {"error": code, "message": f"refused: {code}"}


async def test_a_send_just_after_taking_the_ticket_waits_for_chat_to_hear_of_it(panel, taken):
    """Tickets answered «EN PROCESO» (our view has it); chat hears of it an event later."""
    state, admin = taken
    pending = outbound(state, OutboundContent(kind="text", text="ya voy"), status="pending")
    heard_after = {"calls": 3}

    def send_text(body):
        heard_after["calls"] -= 1
        if heard_after["calls"] > 0:
            raise CommandError("not_in_process", "the chat is only open while the ticket is EN PROCESO")
        return pending.model_dump(mode="json")

    panel.chat.answers["send_text"] = send_text
    response = await admin.post("/api/tickets/5/messages", json={"text": "ya voy"})
    assert response.status_code == 202, response.text
    sends = [body for command, body in panel.chat.calls if command == "send_text"]
    assert len(sends) == 3 and len({body["command_id"] for body in sends}) == 1  # the same command, once applied


async def test_a_send_on_a_ticket_not_taken_is_refused_at_once(panel):
    await panel.ticket(ticket_state(6, status="COMPLETO", branch="centro", phone="5491144446666"))
    admin = await panel.admin()
    panel.chat.answers["send_text"] = refuse("not_in_process", "it is COMPLETO")
    response = await admin.post("/api/tickets/6/messages", json={"text": "hola"})
    assert response.status_code == 409 and len(panel.chat.calls) == 1  # our view agrees: no waiting


async def test_resume_sends_the_template_or_409_when_the_window_is_open(panel, taken):
    state, admin = taken
    panel.chat.answers["resume"] = refuse("window_open", "the window is still open")
    refused = await admin.post("/api/tickets/5/resume")
    assert refused.status_code == 409 and refused.json()["error"] == "window_open"
    template = outbound(state, OutboundContent(kind="template", template=TemplateSpec(name="retomar_contacto")),
                        status="pending", author=Actor(kind="operator", id="root"))
    panel.chat.answers["resume"] = lambda body: template.model_dump(mode="json")
    response = await admin.post("/api/tickets/5/resume")
    assert response.status_code == 202
    assert response.json()["message"]["type"] == "template"
    assert response.json()["message"]["template"] == "retomar_contacto"


async def test_retry_a_failed_message(panel, taken):
    state, admin = taken
    failed = outbound(state, OutboundContent(kind="text", text="precio?"), status="failed", message_id="m-1",
                      error=ApiError(code=131047, title="Re-engagement message",
                                     message="More than 24 hours have passed").model_dump())
    await panel.message(failed, conversation(state, version=2))
    shown = (await admin.get("/api/tickets/5/messages")).json()["items"][-1]
    assert shown["status"] == "failed" and shown["error"]["code"] == 131047
    assert shown["error"]["message"] == "More than 24 hours have passed"
    panel.chat.answers["retry"] = refuse("not_failed", "message m-1 is not failed")
    assert (await admin.post("/api/tickets/5/messages/m-1/retry")).status_code == 409
    again = failed.model_copy(update={"status": "pending", "version": 2, "error": None, "attempts": 2})
    panel.chat.answers["retry"] = lambda body: again.model_dump(mode="json")
    response = await admin.post("/api/tickets/5/messages/m-1/retry")
    assert response.status_code == 202 and response.json()["message"]["status"] == "pending"
    assert (shown["version"], response.json()["message"]["version"]) == (1, 2)  # the UI keeps the newest
    assert panel.chat.calls[-1][1]["message_id"] == "m-1"
    assert (await admin.post("/api/tickets/5/messages/nope/retry")).status_code == 404


async def test_a_command_nobody_answers_is_504_and_a_dead_bus_503(panel, taken):
    _, admin = taken

    async def hang(body):
        await asyncio.sleep(5)

    panel.chat.answers["send_text"] = hang
    response = await admin.post("/api/tickets/5/messages", json={"text": "hola"})
    assert response.status_code == 504 and response.json()["error"] == "timeout"
    panel.bus.broker.available = False
    try:
        down = await admin.post("/api/tickets/5/read")
    finally:
        panel.bus.broker.available = True
    assert down.status_code == 503 and down.json()["error"] == "unavailable"


COMMAND_ROUTES = [("tickets", "change_status", "/api/tickets/5/status", {"status": "FACTURADO"}),
                  ("chat", "send_text", "/api/tickets/5/messages", {"text": "hola"}),
                  ("chat", "resume", "/api/tickets/5/resume", None),
                  ("chat", "retry", "/api/tickets/5/messages/m-1/retry", None),
                  ("chat", "mark_read", "/api/tickets/5/read", None)]


@pytest.mark.parametrize("service, command, url, body", COMMAND_ROUTES)
async def test_a_command_the_service_fails_on_is_a_documented_502(panel, taken, service, command, url, body):
    """The owner's bug comes back as internal_error (500) over the bus: that is a bad gateway for the panel,
    and /openapi.json must list it next to the 503 and 504 of the same routes."""
    state, admin = taken
    await panel.message(outbound(state, OutboundContent(kind="text", text="x"), status="failed", message_id="m-1"),
                        conversation(state, version=2))

    def crash(body):
        raise RuntimeError("the handler has a bug")

    getattr(panel, service).answers[command] = crash
    response = await admin.post(url, json=body)
    assert response.status_code == 502, response.text
    assert response.json()["error"] == "internal_error" and set(response.json()) <= {"error", "message", "details"}
    assert "bug" not in response.text  # the service's internals stay in its log
    template = url.replace("/5/", "/{number}/").replace("/m-1/", "/{message_id}/")
    documented = panel.app.openapi()["paths"][template]["post"]["responses"]
    assert {"502", "503", "504"} <= set(documented), sorted(documented)


async def test_the_conversation_shows_every_kind_of_message(panel, taken):
    state, admin = taken
    await panel.message(inbound(state, None, type="image", media=Media(id="media-1", mime_type="image/jpeg",
                                                                        caption="el comprobante")),
                        conversation(state, version=3))
    await panel.message(inbound(state, None, type="location",
                                location=Location(latitude=-34.6, longitude=-58.4, address="Corrientes 1234")),
                        conversation(state, version=4))
    await panel.message(inbound(state, None, type="interactive",
                                interactive=InteractiveReply(kind="button_reply", id="ok", title="Confirmar")),
                        conversation(state, version=5))
    buttons = OutboundContent(kind="buttons", text="¿Confirmás?", buttons=[ButtonOption(id="ok", title="Confirmar"),
                                                                          ButtonOption(id="no", title="Cancelar")])
    listing = OutboundContent(kind="list", text="Elegí sucursal", list_button="Ver sucursales",
                              sections=[ListSection(rows=[ListRow(id="centro", title="Centro")])])
    await panel.message(outbound(state, buttons, status="read"), conversation(state, version=6))
    await panel.message(outbound(state, listing, status="delivered"), conversation(state, version=7))
    items = (await admin.get("/api/tickets/5/messages")).json()["items"]
    by_type = {m["type"]: m for m in items}
    assert by_type["image"]["media"] == {"id": "media-1", "mime_type": "image/jpeg", "caption": "el comprobante",
                                         "filename": None, "url": "/api/media/media-1"}
    assert by_type["location"]["location"]["map_url"].startswith("https://www.openstreetmap.org/")
    assert by_type["interactive"]["reply_to_option"]["title"] == "Confirmar"
    assert [o["title"] for o in by_type["buttons"]["options"]] == ["Confirmar", "Cancelar"]
    assert by_type["buttons"]["status"] == "read" and by_type["buttons"]["author"]["kind"] == "bot"
    assert by_type["list"]["list_button"] == "Ver sucursales" and by_type["list"]["options"][0]["title"] == "Centro"
    assert by_type["text"]["direction"] == "in" and by_type["text"]["status"] == "received"


async def test_media_is_served_only_for_visible_tickets(panel, taken):
    state, admin = taken
    await panel.message(inbound(state, None, type="image", media=Media(id="media-9", mime_type="image/png")),
                        conversation(state, version=3))
    assert (await admin.get("/api/media/media-9")).status_code == 404  # ingest does not have it (yet)
    panel.media["media-9"] = (b"\x89PNG...", "image/png")
    response = await admin.get("/api/media/media-9")
    assert response.status_code == 200 and response.content == b"\x89PNG..."
    assert response.headers["content-type"] == "image/png"
    panel.media["media-9"] = (b"<html><script>", "text/html")
    html = await admin.get("/api/media/media-9")
    assert html.headers["content-type"] == "application/octet-stream" and html.headers["content-disposition"] == "attachment"
    assert (await admin.get("/api/media/unknown")).status_code == 404
    palermo = await panel.operator("pia", branches=["palermo"])
    assert (await palermo.get("/api/media/media-9")).status_code == 404


@pytest.mark.parametrize("stored, served", [("image/jpeg", "image/jpeg"), ("audio/ogg", "audio/ogg"),
                                            ("video/mp4", "video/mp4"), ("application/pdf", "application/pdf"),
                                            ("text/html", "application/octet-stream")])
async def test_every_media_type_served_is_one_the_schema_documents(panel, taken, stored, served):
    """Found by the schema fuzzer: /openapi.json documented only image/*, so a voice note was off-schema."""
    state, admin = taken
    await panel.message(inbound(state, None, type="document", media=Media(id="media-x", mime_type=stored)),
                        conversation(state, version=3))
    panel.media["media-x"] = (b"bytes", stored)
    response = await admin.get("/api/media/media-x")
    assert response.status_code == 200 and response.headers["content-type"] == served
    documented = panel.app.openapi()["paths"]["/api/media/{media_id}"]["get"]["responses"]["200"]["content"]
    main = served.split("/")[0]
    assert served in documented or f"{main}/*" in documented, sorted(documented)
