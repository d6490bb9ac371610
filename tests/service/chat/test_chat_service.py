"""The chat service: events in on the in-memory bus, sends at the fake Graph API, events out."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest

from mostrador.events.envelope import stable_id
from mostrador.events.schemas.common import OutboundContent
from mostrador.events.schemas.ingest import InboundMessage, Media, MediaStored
from mostrador.events.schemas.scheduler import WindowClosed
from mostrador.events.schemas.tickets import MessageAttached
from mostrador.whatsapp.client import WhatsAppClient
from mostrador.whatsapp.fakegraph_payloads import PHONE_NUMBER_ID
from mostrador.whatsapp.fakegraph_state import InjectedError
from tests.service.chat.chat_rig import LUCIA, LossyLink, start_rig, until

pytestmark = pytest.mark.service


def status_hooks(chat) -> int:
    return len([h for h in chat.fake.webhooks if h["kind"] == "status"])


async def test_a_bot_reply_is_sent_once_and_follows_its_statuses(chat):
    await chat.customer_writes("hola")
    request = await chat.bot_reply()
    mid = str(stable_id("chat", "out", request.event_id))
    sent = await chat.wait_status(mid, "sent")
    assert sent.author.kind == "bot" and sent.wamid and sent.number == 1
    assert chat.fake.sends_per_key[mid] == 1

    await until(lambda: status_hooks(chat) >= 2, what="sent + delivered webhooks")
    await chat.forward_statuses()
    await chat.wait_status(mid, "delivered")
    # out of order and twice: 'read' first, then a late 'delivered' and a duplicate 'sent'
    await chat.status(sent.wamid, "read", callback=mid)
    await chat.status(sent.wamid, "delivered", callback=mid)
    await chat.status(sent.wamid, "sent", callback=mid)
    await chat.quiet()
    assert chat.latest(mid).status == "read"
    versions = [e.payload.message.version for e in chat.published
                if hasattr(e.payload, "message") and e.payload.message.message_id == mid]
    assert versions == sorted(set(versions))  # every publication is a newer version of the message

    # redelivered: the bot's request and chat's own "recorded" event — still one send
    await chat.bus.publish(request)
    for envelope in chat.events("chat.message.recorded"):
        if envelope.payload.message.message_id == mid:
            await chat.bus.publish(envelope)
    await chat.quiet()
    assert chat.fake.sends_per_key[mid] == 1 and len(chat.sends(mid)) == 1
    assert chat.latest(mid).status == "read"


async def test_a_bot_reply_goes_out_before_chats_own_send_request_comes_back_which_then_sends_nothing(chat):
    relay = chat.service.parts["relay"]
    await relay.stop()  # nothing chat records is published: no SendRequested comes round
    await chat.customer_writes("hola")
    mid = str(stable_id("chat", "out", (await chat.bot_reply()).event_id))
    await until(lambda: len(chat.sends(mid)) == 1, what="the reply at WhatsApp, with the relay stopped")
    assert not chat.events("chat.send.requested")

    await relay.start()  # now it comes: the message is already sent
    await chat.wait_status(mid, "sent")
    await chat.quiet()
    assert chat.events("chat.send.requested")
    assert len(chat.sends(mid)) == 1 and chat.fake.sends_per_key[mid] == 1


async def test_an_operators_message_goes_out_at_once_too(chat):
    await chat.customer_writes("quiero hablar con alguien", status="EN PROCESO")
    await chat.quiet()
    await chat.service.parts["relay"].stop()
    accepted = await chat.command("send_text", number=1, text="Hola, soy Ana", command_id="c1")
    assert accepted["ok"] and accepted["result"]["status"] == "pending"
    await until(lambda: len(chat.sends("c1")) == 1, what="the operator's message at WhatsApp")
    await chat.service.parts["relay"].start()
    await chat.wait_status("c1", "sent")
    await chat.quiet()
    assert len(chat.sends("c1")) == 1


class SlowFirstSend(httpx.AsyncBaseTransport):
    """Chat's link to the Graph API with a slow first send; notes when each send began and ended."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.sends = inner, []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST" or b"biz_opaque_callback_data" not in request.content:
            return await self.inner.handle_async_request(request)
        loop = asyncio.get_running_loop()
        began = loop.time()
        if not self.sends:
            await asyncio.sleep(0.3)
        response = await self.inner.handle_async_request(request)
        self.sends.append((began, loop.time(), json.loads(request.content)["text"]["body"]))
        return response


async def test_a_customers_replies_are_sent_one_at_a_time_in_order(tmp_path):
    links: list[SlowFirstSend] = []
    rig, service = await start_rig(tmp_path, link=lambda inner: links.append(SlowFirstSend(inner)) or links[0])
    await rig.bus.start()
    await service.start()
    try:
        await rig.customer_writes("hola")
        await rig.bot_reply("uno")
        await rig.bot_reply("dos")
        await until(lambda: len(links[0].sends) == 2, what="both replies at WhatsApp")
        (_, first_done, first), (second_began, _, second) = sorted(links[0].sends)
        assert (first, second) == ("uno", "dos")
        assert second_began >= first_done  # the second waited for the slow first
    finally:
        await stop(rig, service)


async def test_operator_text_only_en_proceso_and_inside_the_window_then_resume(chat):
    await chat.customer_writes("quiero hablar con alguien", status="COMPLETO")
    await chat.quiet()
    refused = await chat.command("send_text", number=1, text="Hola, soy Ana")
    assert refused["error"]["code"] == "not_in_process" and refused["error"]["status"] == 409
    assert "COMPLETO" in refused["error"]["message"]
    missing = await chat.command("send_text", number=99, text="Hola")
    assert (missing["error"]["code"], missing["error"]["status"]) == ("not_found", 404)

    await chat.ticket_status(1, "EN PROCESO")
    await chat.quiet()
    accepted = await chat.command("send_text", number=1, text="Hola, soy Ana", command_id="c1")
    assert accepted["ok"] and accepted["result"]["status"] == "pending" and accepted["result"]["message_id"] == "c1"
    assert (await chat.wait_status("c1", "sent")).author.id == "u1"
    again = await chat.command("send_text", number=1, text="Hola, soy Ana", command_id="c1")  # the panel retried
    assert again["ok"] and again["result"]["message_id"] == "c1"
    assert (await chat.command("resume", number=1))["error"]["code"] == "window_open"

    chat.clock.advance(hours=25)
    window = (await chat.command("window", number=1))["result"]
    assert window["open"] is False and window["ticket_status"] == "EN PROCESO"
    assert window["reason"]["code"] == "window_closed"
    closed = await chat.command("send_text", number=1, text="¿Seguís ahí?")
    assert closed["error"]["code"] == "window_closed"

    resumed = await chat.command("resume", number=1, command_id="r1")
    assert resumed["ok"] and resumed["result"]["content"]["kind"] == "template"
    await chat.wait_status("r1", "sent")
    body = chat.sends("r1")[0]["body"]
    assert body["type"] == "template" and body["template"]["name"] == "retomar_contacto"
    assert body["template"]["components"][0]["parameters"][0]["text"] == "Lucía Fernández"
    await chat.quiet()
    assert chat.fake.sends_per_key["c1"] == 1


async def test_131047_fails_with_its_reason_closes_the_window_and_retry_works_once_the_customer_writes(chat):
    await chat.customer_writes(status="EN PROCESO")
    await chat.quiet()
    chat.fake.errors.append(InjectedError(code=131047, http_status=400))
    await chat.command("send_text", number=1, text="Te confirmo el pedido", command_id="c1")
    failed = await chat.wait_status("c1", "failed")
    assert failed.error.code == 131047 and "24 hours" in failed.error.details
    update = [e for e in chat.events("chat.message.updated") if e.payload.message.status == "failed"][-1]
    assert update.payload.conversation.window_closes_at <= chat.clock.now()
    alert = await until(lambda: chat.events("chat.message.failed"), what="chat.message.failed")
    assert alert[0].payload.error.code == 131047 and alert[0].payload.customer.key == LUCIA.key
    assert (await chat.command("window", number=1))["result"]["open"] is False
    assert (await chat.command("retry", number=1, message_id="c1"))["error"]["code"] == "window_closed"

    chat.clock.advance(minutes=5)
    await chat.customer_writes("sigo acá", status="EN PROCESO")
    await chat.quiet()
    retried = await chat.command("retry", number=1, message_id="c1")
    assert retried["ok"] and retried["result"]["status"] == "pending"
    resent = await chat.wait_status("c1", "sent")
    assert resent.error is None and resent.attempts == 2
    assert [r["status_code"] for r in chat.sends("c1")] == [400, 200]
    assert (await chat.command("retry", number=1, message_id="c1"))["error"]["code"] == "not_failed"


async def test_a_500_is_retried_by_the_client_inside_one_attempt(chat):
    await chat.customer_writes()
    chat.fake.errors.append(InjectedError(code=131000, http_status=500))
    mid = str(stable_id("chat", "out", (await chat.bot_reply()).event_id))
    sent = await chat.wait_status(mid, "sent")
    assert [r["status_code"] for r in chat.sends(mid)] == [500, 200]
    assert chat.fake.sends_per_key[mid] == 1 and sent.attempts == 1


async def test_mark_read_zeroes_unread_and_gives_the_customer_blue_ticks(chat):
    await chat.customer_writes("hola")
    last = await chat.customer_writes("¿hay empanadas de carne?")
    await until(lambda: len(chat.events("chat.message.recorded")) == 2, what="two inbound messages")
    assert chat.events("chat.message.recorded")[-1].payload.conversation.unread == 2
    reply = await chat.command("mark_read", number=1)
    assert reply["ok"] and reply["result"]["unread"] == 0
    read = await until(lambda: chat.events("chat.conversation.read"), what="conversation read")
    assert read[0].payload.conversation.unread == 0 and read[0].payload.by.id == "u1"
    marks = await until(lambda: [r for r in chat.fake.requests if r.get("type") == "read"], what="mark_read call")
    assert marks[0]["wamid"] == last.message_id


async def test_a_stored_photo_becomes_available_to_the_panel(chat):
    await chat.customer_writes()
    ticket = chat.ticket(1, "INCOMPLETO")
    photo = InboundMessage(message_id="wamid.photo", phone_number_id=PHONE_NUMBER_ID, customer=LUCIA,
                           timestamp=chat.clock.now(), type="image", media=Media(id="meta-77", mime_type="image/jpeg"))
    await chat.publish(MediaStored(media_id="stored-1", message_id="wamid.photo", customer_key=LUCIA.key,
                                   mime_type="image/jpeg", size=1234), "ingest")  # before the message itself
    await chat.publish(MessageAttached(ticket=ticket, message=photo), "tickets")
    mid = str(stable_id("chat", "in", "wamid.photo"))
    state = await until(lambda: chat.latest(mid), what="photo recorded")
    assert state.inbound.media.url == "/api/media/stored-1"


async def test_a_reaction_is_kept_in_the_conversation_for_the_operator(chat):
    await chat.customer_writes("hola")
    reaction = InboundMessage(message_id="wamid.reaction", phone_number_id=PHONE_NUMBER_ID, customer=LUCIA,
                              timestamp=chat.clock.now(), type="reaction",
                              reaction={"message_id": "wamid.bot", "emoji": "👍"})
    await chat.publish(MessageAttached(ticket=chat.ticket(1, "INCOMPLETO"), message=reaction), "tickets")
    await chat.quiet()
    kept = chat.latest(str(stable_id("chat", "in", "wamid.reaction")))
    assert kept is not None and kept.number == 1 and kept.direction == "in"
    assert (kept.inbound.type, kept.inbound.reaction.emoji) == ("reaction", "👍")


async def test_the_scheduler_closing_the_window(chat):
    await chat.customer_writes(status="EN PROCESO")
    await chat.quiet()
    assert (await chat.command("window", number=1))["result"]["open"] is True
    await chat.publish(WindowClosed(customer_key=LUCIA.key, number=1, last_inbound_at=chat.clock.now(),
                                    closed_at=chat.clock.now()), "scheduler")
    await chat.quiet()
    assert (await chat.command("window", number=1))["result"]["open"] is False


async def crashed_mid_send(tmp_path, grace: float):
    """A process that recorded attempt 1 of a bot reply and died before recording the result."""
    rig, service = await start_rig(tmp_path, grace=grace)
    content = OutboundContent(kind="text", text="¡Hola!")
    rig.app.change("req-1", LUCIA.model_dump(mode="json"), lambda c: c.request_outbound(
        "m1", author={"kind": "bot"}, content=content.model_dump(mode="json"), at=rig.clock.now(),
        ticket_id="ticket-1", number=1))
    assert rig.app.start_attempt(LUCIA.key, "m1", 1, rig.clock.now())
    return rig, service, content


async def stop(rig, service):
    await rig.fake.settle()
    await rig.bus.stop(drain_timeout=2)
    await service.stop()


async def test_crash_mid_send_is_resolved_by_the_status_webhook_without_a_second_send(tmp_path):
    rig, service, content = await crashed_mid_send(tmp_path, grace=5.0)
    async with WhatsAppClient(base_url="http://graph.test/v25.0", phone_number_id=PHONE_NUMBER_ID,
                              access_token="x", transport=httpx.ASGITransport(rig.graph)) as client:
        landed = await client.send(LUCIA, content, key="m1")  # ...and WhatsApp did get it
    await rig.bus.start()
    await service.start()  # the relay publishes the pending message again; the sender finds attempt 1 open
    try:
        await until(lambda: status_hooks(rig) >= 1, what="the status webhook")
        await rig.forward_statuses()
        state = await until(lambda: (m := rig.latest("m1")) and m.wamid == landed.wamid and m, what="resolved")
        assert state.status in ("sent", "delivered")
        await rig.quiet()
        assert rig.fake.sends_per_key["m1"] == 1
    finally:
        await stop(rig, service)


async def test_crash_mid_send_with_no_news_resends_with_the_same_key_after_the_grace(tmp_path):
    rig, service, _ = await crashed_mid_send(tmp_path, grace=0.2)
    await rig.bus.start()
    await service.start()
    try:
        sent = await rig.wait_status("m1", "sent")
        assert sent.attempts == 2 and rig.fake.sends_per_key["m1"] == 1
        assert rig.sends("m1")[0]["body"]["biz_opaque_callback_data"] == "m1"
    finally:
        await stop(rig, service)


async def lost_answer_rig(tmp_path, *, grace: float, delivered: bool):
    links: list[LossyLink] = []

    def link(inner):
        links.append(LossyLink(inner, lose=1, delivered=delivered))
        return links[0]

    rig, service = await start_rig(tmp_path, grace=grace, link=link)
    await rig.bus.start()
    await service.start()
    await rig.customer_writes("hola")
    mid = str(stable_id("chat", "out", (await rig.bot_reply()).event_id))
    return rig, service, links[0], mid


async def test_a_lost_answer_is_settled_by_the_status_webhook_in_the_grace_period_with_one_send(tmp_path):
    rig, service, link, mid = await lost_answer_rig(tmp_path, grace=5.0, delivered=True)
    try:
        await until(lambda: status_hooks(rig) >= 2, what="WhatsApp's sent + delivered webhooks")
        await rig.forward_statuses()  # what ingest does with them
        delivered = await rig.wait_status(mid, "delivered")
        await rig.quiet()
        assert len(link.sends) == 1  # neither the client nor the bus sent it again
        assert rig.fake.sends_per_key[mid] == 1 and delivered.attempts == 1
        assert delivered.wamid == rig.sends(mid)[0]["wamid"]
    finally:
        await stop(rig, service)


async def test_a_lost_answer_with_no_status_is_sent_again_after_the_grace_with_the_same_key(tmp_path):
    rig, service, link, mid = await lost_answer_rig(tmp_path, grace=0.4, delivered=False)
    try:
        sent = await rig.wait_status(mid, "sent")
        await rig.quiet()
        (first_at, first), (again_at, again) = link.sends
        assert again_at - first_at >= 0.4  # it waited for the status webhook first
        assert first["biz_opaque_callback_data"] == again["biz_opaque_callback_data"] == mid
        assert first == again  # the same message, the same key
        assert rig.fake.sends_per_key[mid] == 1 and sent.attempts == 2
    finally:
        await stop(rig, service)


async def test_what_chat_publishes_fits_the_panel_projection(chat, tmp_path):
    """Feed everything chat published (duplicates and all, in any order) to the panel's views."""
    from mostrador.panel_api.handlers import ProjectionHandlers
    from mostrador.panel_api.views import PanelViews
    from mostrador.platform.db import SqliteDatabase

    await chat.customer_writes("hola", status="EN PROCESO")
    await chat.quiet()
    chat.clock.advance(minutes=1)
    await chat.command("send_text", number=1, text="Hola, soy Ana", command_id="c1")
    sent = await chat.wait_status("c1", "sent")
    await chat.status(sent.wamid, "read", callback="c1")
    await chat.wait_status("c1", "read")
    await chat.command("mark_read", number=1)
    await until(lambda: chat.events("chat.conversation.read"), what="conversation read")
    await chat.quiet()

    views = PanelViews(SqliteDatabase(str(tmp_path / "panel.db")))
    try:
        projector = ProjectionHandlers(views)
        for envelope in [*reversed(chat.published), *chat.published]:  # reordered and redelivered
            projector.apply(envelope)
        messages = views.messages(1)
        assert [(m["direction"], m["status"]) for m in messages] == [("in", "received"), ("out", "read")]
        conversation = views.db.one("SELECT unread, number FROM conversations WHERE customer_key = %(k)s",
                                    {"k": LUCIA.key})
        assert conversation == {"unread": 0, "number": 1}
    finally:
        views.db.close()
