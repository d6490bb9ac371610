"""Message types beyond the fixtures, malformed items, and what makes a body not a webhook at all."""

import json

import pytest

from mostrador.events.schemas.ingest import InteractiveReply, Reaction
from mostrador.whatsapp.webhook import WebhookError, parse_webhook

pytestmark = pytest.mark.unit

LUCIA = {"profile": {"name": "Lucía"}, "wa_id": "5491100000001", "user_id": "AR.1093847561029384"}


def body(messages=(), statuses=(), contacts=(LUCIA,), field="messages", **value_extra) -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "5491100000000", "phone_number_id": "109876543210987"},
        "contacts": list(contacts),
        **value_extra,
    }
    if messages:
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "102030405060708", "changes": [{"value": value, "field": field}]}],
        }
    ).encode()


def msg(kind, part=None, **extra):
    message = {"from": "5491100000001", "id": f"wamid.{kind}", "timestamp": "1789486200", "type": kind}
    if part is not None:
        message[kind] = part
    return message | extra


def one(message):
    batch = parse_webhook(body([message]))
    assert batch.ignored == [], batch.ignored
    [parsed] = batch.messages
    return parsed


@pytest.mark.parametrize("kind", ["audio", "video", "document", "sticker"])
def test_media_types(kind):
    part = {
        "id": "998877",
        "mime_type": "x/y",
        "sha256": "abc=",
        "caption": "cap",
        "filename": "f.pdf",
        "voice": True,
        "url": "https://lookaside.fbsbx.com/x",
    }
    m = one(msg(kind, part))
    assert m.type == kind
    assert (
        m.media.id,
        m.media.mime_type,
        m.media.sha256,
        m.media.caption,
        m.media.filename,
        m.media.voice,
        m.media.url,
    ) == ("998877", "x/y", "abc=", "cap", "f.pdf", True, "https://lookaside.fbsbx.com/x")


def test_voice_note_minimal():
    m = one(msg("audio", {"id": "1", "mime_type": "audio/ogg; codecs=opus", "voice": True}))
    assert m.media.voice is True and m.media.caption is None and m.preview() == "[audio]"


def test_reaction_and_removed_reaction():
    assert one(msg("reaction", {"message_id": "wamid.ours", "emoji": "❤️"})).reaction == Reaction(
        message_id="wamid.ours", emoji="❤️"
    )
    assert one(msg("reaction", {"message_id": "wamid.ours"})).reaction == Reaction(message_id="wamid.ours")


def test_legacy_template_quick_reply_button():
    m = one(
        msg(
            "button",
            {"payload": "confirmar_pedido", "text": "Confirmar"},
            context={"from": "5491100000000", "id": "wamid.tpl"},
        )
    )
    assert m.type == "button"
    assert m.interactive == InteractiveReply(kind="button_reply", id="confirmar_pedido", title="Confirmar")
    assert m.context.message_id == "wamid.tpl"


def test_flow_nfm_reply_keeps_the_response_json():
    m = one(
        msg(
            "interactive",
            {
                "type": "nfm_reply",
                "nfm_reply": {
                    "name": "flow",
                    "body": "Sent",
                    "response_json": '{"flow_token": "t", "sucursal": "centro"}',
                },
            },
        )
    )
    assert m.interactive.kind == "nfm_reply"
    assert m.interactive.title == "Sent"
    assert json.loads(m.interactive.response_json) == {"flow_token": "t", "sucursal": "centro"}


def test_unknown_interactive_subtype_is_other():
    m = one(
        msg("interactive", {"type": "call_permission_reply", "call_permission_reply": {"response": "accept"}})
    )
    assert m.interactive == InteractiveReply(kind="other", id="call_permission_reply")


def test_contacts_card():
    cards = [{"name": {"formatted_name": "Rosa"}, "phones": [{"phone": "+54 9 11 5555-0000"}]}, "junk"]
    m = one(msg("contacts", cards))
    assert m.type == "contacts" and m.contacts == [cards[0]]


def test_order():
    order = {
        "catalog_id": "c1",
        "text": "para el sábado",
        "product_items": [
            {"product_retailer_id": "emp-carne", "quantity": 24, "item_price": 900, "currency": "ARS"}
        ],
    }
    m = one(msg("order", order))
    assert m.type == "order" and m.order == order and m.text == "para el sábado"


def test_system_message_without_contacts_array():
    system = {
        "body": "User A changed from 5491100000001 to 5491100000009",
        "new_wa_id": "5491100000009",
        "type": "user_changed_number",
    }
    batch = parse_webhook(body([msg("system", system)], contacts=()))
    [m] = batch.messages
    assert m.type == "system" and m.system == system and m.text == system["body"]
    assert m.customer.key == "5491100000001" and m.customer.name is None


def test_unknown_type_never_raises():
    m = one(msg("hologram", {"x": 1}))
    assert m.type == "unknown" and m.original_type == "hologram"
    m = one({"from": "5491100000001", "id": "wamid.notype", "timestamp": "1789486200"})
    assert m.type == "unknown" and m.original_type is None


def test_forwarded_context_and_message_errors():
    m = one(
        msg(
            "text",
            {"body": "fw"},
            context={"frequently_forwarded": True},
            errors=[{"code": 131051, "title": "x"}, {"title": "no code"}],
        )
    )
    assert m.context.forwarded is True and m.context.message_id is None
    assert [e.code for e in m.errors] == [131051]


def test_location_with_place_fields():
    m = one(
        msg(
            "location",
            {
                "latitude": "-34.6",
                "longitude": -58.38,
                "name": "Sucursal Centro",
                "address": "Av. Corrientes 1234",
                "url": "https://example.com",
            },
        )
    )
    assert (m.location.latitude, m.location.name, m.location.address) == (
        -34.6,
        "Sucursal Centro",
        "Av. Corrientes 1234",
    )


def test_contact_matched_only_by_id_even_when_a_stranger_comes_first():
    stranger = {"profile": {"name": "Otro"}, "wa_id": "5491199999999"}
    batch = parse_webhook(body([msg("text", {"body": "hola"})], contacts=(stranger, LUCIA)))
    assert batch.messages[0].customer.name == "Lucía"


def test_message_without_matching_contact_still_gets_its_identity():
    batch = parse_webhook(body([msg("text", {"body": "hola"})], contacts=()))
    assert batch.messages[0].customer.key == "5491100000001" and batch.messages[0].customer.name is None


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (
            {"from": "5491100000001", "timestamp": "1789486200", "type": "text", "text": {"body": "x"}},
            "without id",
        ),
        ({"id": "wamid.a", "timestamp": "1789486200", "type": "text", "text": {"body": "x"}}, "neither from"),
        (
            {"from": "1", "id": "wamid.b", "timestamp": "yesterday", "type": "text", "text": {"body": "x"}},
            "timestamp",
        ),
        (
            {
                "from": "1",
                "id": "wamid.c",
                "timestamp": "99999999999999999",
                "type": "text",
                "text": {"body": "x"},
            },
            "timestamp",
        ),
        ({"from": "1", "id": "wamid.d", "timestamp": "1", "type": "text", "text": {}}, "without body"),
        (
            {
                "from": "1",
                "id": "wamid.e",
                "timestamp": "1",
                "type": "image",
                "image": {"mime_type": "image/png"},
            },
            "without media id",
        ),
        (
            {
                "from": "1",
                "id": "wamid.f",
                "timestamp": "1",
                "type": "location",
                "location": {"latitude": "x"},
            },
            "latitude",
        ),
        ("not a message", "not an object"),
    ],
)
def test_malformed_message_is_skipped_and_reported_but_the_rest_survive(bad, reason):
    good = msg("text", {"body": "sigo acá"})
    batch = parse_webhook(body([bad, good]))
    assert [m.text for m in batch.messages] == ["sigo acá"]
    assert len(batch.ignored) == 1
    assert batch.ignored[0].startswith("entry[0].changes[0].messages[0]: ")
    assert reason in batch.ignored[0]


def status(state="delivered", **extra):
    return {
        "id": "wamid.out",
        "status": state,
        "timestamp": "1789486591",
        "recipient_id": "5491100000001",
    } | extra


def test_statuses_played_callback_data_and_bsuid_only_recipient():
    batch = parse_webhook(
        body(
            statuses=[
                status("played", biz_opaque_callback_data="msg-123"),
                {
                    "id": "wamid.out2",
                    "status": "read",
                    "timestamp": "1789486592",
                    "recipient_user_id": "AR.1093847561029384",
                },
            ]
        )
    )
    assert batch.ignored == []
    played, read = batch.statuses
    assert played.status == "played" and played.callback_data == "msg-123"
    assert read.recipient.key == "5491100000001"  # joined to the contact by BSUID, the phone comes with it
    assert read.recipient.user_id == "AR.1093847561029384" and read.recipient.name == "Lucía"


def test_bad_statuses_are_skipped_and_reported():
    batch = parse_webhook(
        body(
            statuses=[
                status("teleported"),
                status(id=None),
                {"id": "wamid.x", "status": "sent", "timestamp": "1"},
                status(),
            ]
        )
    )
    assert [s.status for s in batch.statuses] == ["delivered"]
    assert len(batch.ignored) == 3
    assert "unknown status" in batch.ignored[0] and "without id" in batch.ignored[1]
    assert "recipient" in batch.ignored[2]


def test_other_fields_and_value_errors():
    template_update = body(field="message_template_status_update")
    batch = parse_webhook(template_update)
    assert batch.messages == [] and batch.ignored == [
        "entry[0].changes[0]: field 'message_template_status_update' not handled"
    ]
    errors = [{"code": 131000, "title": "Something went wrong", "error_data": {"details": "boom"}}]
    batch = parse_webhook(body(errors=errors))
    assert [(e.code, e.details) for e in batch.errors] == [(131000, "boom")]


def test_every_entry_and_change_is_walked():
    one_change = json.loads(body([msg("text", {"body": "a"})]))["entry"][0]["changes"][0]
    other = json.loads(body(statuses=[status()]))["entry"][0]["changes"][0]
    document = {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": "1", "changes": [one_change, other, "junk"]},
            {"id": "2", "changes": [one_change]},
            {"id": "3"},
        ],
    }
    batch = parse_webhook(json.dumps(document).encode())
    assert len(batch.messages) == 2 and len(batch.statuses) == 1
    assert batch.ignored == ["entry[0].changes[2]: not an object", "entry[2]: changes is not a list"]


def test_missing_phone_number_id_drops_that_change_with_a_reason():
    document = json.loads(body([msg("text", {"body": "a"})]))
    del document["entry"][0]["changes"][0]["value"]["metadata"]
    batch = parse_webhook(json.dumps(document).encode())
    assert batch.messages == [] and "phone_number_id" in batch.ignored[0]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b"[" * 100_000, "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b"42", "must be a JSON object"),
        (b'{"object": "page", "entry": []}', "object must be"),
        (b'{"entry": []}', "object must be"),
        (b'{"object": "whatsapp_business_account"}', "entry must be a list"),
        (b'{"object": "whatsapp_business_account", "entry": {}}', "entry must be a list"),
        (b'{"object": "whatsapp_business_account", "entry": [1]}', "entry[0] must be an object"),
    ],
)
def test_not_a_webhook_raises_webhook_error(raw, message):
    with pytest.raises(WebhookError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_webhook(raw)
    assert issubclass(WebhookError, ValueError)


def test_empty_entry_list_is_an_empty_batch():
    batch = parse_webhook(b'{"object": "whatsapp_business_account", "entry": []}')
    assert (batch.messages, batch.statuses, batch.ignored, batch.errors) == ([], [], [], [])
