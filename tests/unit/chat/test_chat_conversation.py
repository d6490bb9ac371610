"""The Conversation aggregate: given events -> command -> new events. Fake times, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mostrador.chat.application import ChatApp
from mostrador.chat.domainmodel import Conversation, Refused
from mostrador.chat.outbound import make_translate

pytestmark = pytest.mark.unit

T0 = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)
KEY = "5491100000001"
OPERATOR = {"kind": "operator", "id": "u1", "name": "Ana"}
ERR_131047 = {"code": 131047, "title": "Re-engagement message"}


def ticket(number=1, status="EN PROCESO", version=3):
    return {"ticket_id": f"t{number}", "number": number, "status": status, "version": version, "name": "Lucía"}


def inbound(wamid="wamid.in1", at=T0, text="hola"):
    return {"message_id": wamid, "phone_number_id": "1", "customer": {"key": KEY, "wa_id": KEY, "name": "Lu"},
            "timestamp": at.isoformat(), "type": "text", "text": text}


def conversation(status="EN PROCESO", at=T0) -> Conversation:
    conv = Conversation({"key": KEY, "wa_id": KEY})
    conv.record_inbound("in1", inbound(at=at), ticket(status=status))
    return conv


def sent_text(conv: Conversation, message_id="op1", at=T0 + timedelta(minutes=1)) -> None:
    conv.send_text(message_id, "¿Retirás hoy?", by=OPERATOR, at=at, number=1, ticket_id="t1", hours=24)
    conv.start_attempt(message_id, at)


def names(events) -> list[str]:
    return [type(e).__name__ for e in events]


def replay(events) -> Conversation:
    conv = None
    for e in events:
        conv = e.mutate(conv)
    return conv


def test_inbound_is_deduped_by_wamid():
    conv = conversation()
    assert not conv.record_inbound("in1-again", inbound(), ticket())
    assert list(conv.messages) == ["in1"] and conv.unread == 1
    assert conv.last_inbound_at == T0 and conv.customer["name"] == "Lu"


def test_a_redelivered_request_records_one_message():
    conv = conversation()
    args = dict(author={"kind": "bot"}, content={"kind": "text", "text": "¡Hola!"}, at=T0, ticket_id="t1", number=1)
    assert conv.request_outbound("out1", **args)
    assert not conv.request_outbound("out1", **args)
    assert [m["message_id"] for m in conv.messages.values() if m["direction"] == "out"] == ["out1"]
    assert conv.messages["out1"]["status"] == "pending"


def test_the_ticket_is_the_latest_by_number_and_version():
    conv = conversation(status="COMPLETO")
    assert conv.note_ticket(ticket(status="EN PROCESO", version=4))
    assert not conv.note_ticket(ticket(status="COMPLETO", version=2))  # late event: ignored
    assert conv.ticket["status"] == "EN PROCESO"
    assert conv.note_ticket(ticket(number=2, status="INCOMPLETO", version=1))  # a new ticket wins
    assert conv.ticket["number"] == 2


def test_operator_text_needs_en_proceso_and_the_window():
    with pytest.raises(Refused) as refused:
        conversation(status="COMPLETO").send_text("op1", "hola", by=OPERATOR, at=T0, number=1, ticket_id="t1", hours=24)
    assert (refused.value.code, refused.value.status) == ("not_in_process", 409)
    conv = conversation()
    with pytest.raises(Refused) as refused:
        conv.send_text("op1", "hola", by=OPERATOR, at=T0 + timedelta(hours=25), number=1, ticket_id="t1", hours=24)
    assert refused.value.code == "window_closed"
    assert conv.send_text("op1", "hola", by=OPERATOR, at=T0 + timedelta(hours=23), number=1, ticket_id="t1", hours=24)


def test_resume_only_when_closed_and_whatever_the_ticket_status():
    template = {"name": "retomar_contacto", "language": "es_AR", "parameters": ["Lucía"]}
    conv = conversation(status="COMPLETO")
    with pytest.raises(Refused) as refused:
        conv.resume("r1", template, by=OPERATOR, at=T0 + timedelta(hours=1), number=1, ticket_id="t1", hours=24)
    assert refused.value.code == "window_open"
    assert conv.resume("r1", template, by=OPERATOR, at=T0 + timedelta(hours=24), number=1, ticket_id="t1", hours=24)
    assert conv.messages["r1"]["content"] == {"kind": "template", "template": template}


def test_status_before_the_send_result_waits_in_the_aggregate():
    conv = conversation()
    sent_text(conv)
    assert conv.apply_status("wamid.out", "delivered", T0, [], None)  # no callback data, wamid unknown yet
    assert conv.messages["op1"]["status"] == "pending"
    assert conv.record_sent("op1", "wamid.out", T0)
    assert conv.messages["op1"]["status"] == "delivered" and conv.early == {}


def test_a_status_with_our_callback_data_adopts_the_wamid():
    conv = conversation()
    sent_text(conv)
    assert conv.apply_status("wamid.out", "sent", T0, [], "op1")
    assert conv.messages["op1"]["wamid"] == "wamid.out" and conv.wamids["wamid.out"] == "op1"
    assert not conv.record_sent("op1", "wamid.out", T0)  # the late send result changes nothing
    assert conv.apply_status("wamid.out", "read", T0, [], "op1")
    assert not conv.apply_status("wamid.out", "delivered", T0, [], "op1")
    assert conv.messages["op1"]["status"] == "read"
    # a second copy (a resend after a crash) reports under another wamid: noise, not a new state
    assert not conv.apply_status("wamid.other", "failed", T0, [ERR_131047], "op1")


def test_131047_fails_the_message_and_closes_the_window_until_the_customer_writes():
    conv = conversation()
    sent_text(conv)
    assert conv.record_failed("op1", ERR_131047, permanent=True, at=T0 + timedelta(minutes=1))
    assert conv.messages["op1"]["status"] == "failed" and conv.messages["op1"]["error"]["code"] == 131047
    assert not conv.window_open(T0 + timedelta(minutes=2), 24)
    assert "GaveUp" in names(conv.collect_events())
    with pytest.raises(Refused) as refused:
        conv.retry("op1", by=OPERATOR, at=T0 + timedelta(minutes=2), hours=24)
    assert refused.value.code == "window_closed"
    conv.record_inbound("in2", inbound("wamid.in2", T0 + timedelta(minutes=3)), ticket(version=4))
    assert conv.window_open(T0 + timedelta(minutes=4), 24)
    conv.retry("op1", by=OPERATOR, at=T0 + timedelta(minutes=4), hours=24)
    msg = conv.messages["op1"]
    assert (msg["status"], msg["error"], msg["wamid"], msg["round"]) == ("pending", None, None, 2)


def test_a_stale_131047_does_not_close_a_window_the_customer_reopened():
    conv = conversation()
    sent_text(conv)
    conv.apply_status("wamid.out", "sent", T0, [], "op1")
    conv.record_inbound("in2", inbound("wamid.in2", T0 + timedelta(hours=1)), None)  # wrote after our attempt
    conv.apply_status("wamid.out", "failed", T0 + timedelta(hours=1, minutes=1), [ERR_131047], "op1")
    assert conv.messages["op1"]["status"] == "failed"
    assert conv.window_open(T0 + timedelta(hours=2), 24)


def test_retry_only_for_failed_messages():
    conv = conversation()
    sent_text(conv)
    with pytest.raises(Refused) as refused:
        conv.retry("op1", by=OPERATOR, at=T0, hours=24)
    assert refused.value.code == "not_failed"
    with pytest.raises(Refused) as refused:
        conv.retry("nope", by=OPERATOR, at=T0, hours=24)
    assert (refused.value.code, refused.value.status) == ("not_found", 404)


def test_mark_read_zeroes_unread_once():
    conv = conversation()
    conv.record_inbound("in2", inbound("wamid.in2", T0 + timedelta(minutes=1)), None)
    assert conv.unread == 2
    assert conv.mark_read(OPERATOR, T0)
    assert conv.unread == 0 and conv.read_wamid == "wamid.in2"
    assert not conv.mark_read(OPERATOR, T0)


def test_media_stored_before_or_after_its_message():
    conv = Conversation({"key": KEY})
    assert conv.media_stored("wamid.photo", "m1")  # before tickets filed the message
    photo = inbound("wamid.photo") | {"type": "image", "text": None, "media": {"id": "meta1", "mime_type": "image/jpeg"}}
    conv.record_inbound("in-photo", photo, ticket())
    assert conv.messages["in-photo"]["media_id"] == "m1"
    conv2 = conversation()
    assert conv2.media_stored("wamid.in1", "m2") and conv2.messages["in1"]["media_id"] == "m2"
    assert not conv2.media_stored("wamid.in1", "m2")


def test_replay_rebuilds_the_same_state():
    conv = conversation()
    sent_text(conv)
    conv.apply_status("wamid.out", "delivered", T0, [], None)
    conv.record_sent("op1", "wamid.out", T0)
    conv.record_inbound("in2", inbound("wamid.in2", T0 + timedelta(minutes=5)), ticket(version=5))
    conv.mark_read(OPERATOR, T0 + timedelta(minutes=6))
    events = conv.collect_events()
    assert vars(replay(events)) == vars(conv)
    assert vars(replay(events)) == vars(replay(events))  # bodies read no clock: every replay agrees


def test_stored_and_snapshotted_state_round_trips(monkeypatch):
    monkeypatch.setattr(ChatApp, "snapshotting_intervals", {Conversation: 3})
    app = ChatApp(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    conv = conversation()
    for i in range(4):
        sent_text(conv, f"op{i}")
        conv.record_sent(f"op{i}", f"wamid.out{i}", T0)
    app.save(conv)
    assert app.snapshots is not None and list(app.snapshots.get(conv.id))  # a snapshot was taken
    assert vars(app.repository.get(conv.id)) == vars(conv)


def test_published_versions_follow_messages_and_the_aggregate():
    conv = conversation()
    sent_text(conv)
    conv.record_sent("op1", "wamid.out", T0)
    translate, state, published = make_translate(24), None, []
    for e in conv.collect_events():
        state = e.mutate(state)
        payload = translate(e, state)
        if payload is not None:
            published.append((type(e).__name__, payload))
    assert [n for n, _ in published] == ["InboundRecorded", "OutboundRequested", "Sent"]  # SendAttempted stays private
    sent = published[-1][1]
    assert sent.TYPE == "chat.message.updated" and sent.message.status == "sent"
    assert sent.message.version == 3  # requested, attempted, sent
    assert sent.conversation.version == conv.version and sent.conversation.number == 1
    assert sent.conversation.window_closes_at == T0 + timedelta(hours=24)
