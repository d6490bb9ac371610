"""Every synthetic Meta webhook fixture, parsed and checked field by field."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mostrador.events.schemas.common import ApiError, Customer, Location
from mostrador.events.schemas.ingest import InteractiveReply, Media, ReplyContext
from mostrador.whatsapp.webhook import parse_webhook

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "whatsapp"
PHONE_NUMBER_ID = "109876543210987"
SHOP = "5491100000000"
LUCIA = Customer(
    key="5491100000001", wa_id="5491100000001", user_id="AR.1093847561029384", name="Lucía Fernández"
)
LUCIA_NO_BSUID = Customer(key="5491100000001", wa_id="5491100000001", name="Lucía Fernández")
MARTIN = Customer(
    key="5491100000002", wa_id="5491100000002", user_id="AR.2284710093857461", name="Martín Gómez"
)
SOFIA = Customer(key="5491100000003", wa_id="5491100000003", user_id="AR.3391028475610293", name="Sofía")


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def only_message(name: str):
    batch = parse_webhook(raw(name))
    assert batch.statuses == [] and batch.ignored == [] and batch.errors == []
    assert len(batch.messages) == 1
    message = batch.messages[0]
    assert message.phone_number_id == PHONE_NUMBER_ID
    return message


def test_all_twelve_fixtures_are_present_and_parse_without_ignoring_anything():
    names = sorted(p.name for p in FIXTURES.glob("*.json"))
    assert len(names) == 12
    for name in names:
        batch = parse_webhook(raw(name))
        assert batch.ignored == [], name
        assert len(batch.messages) + len(batch.statuses) >= 1, name


def test_text_hola():
    m = only_message("text_hola.json")
    assert m.message_id == "wamid.SEJnTi1maXh0dXJlLWluLWhvbGE="
    assert m.customer == LUCIA
    assert m.customer.key == "5491100000001"
    assert m.timestamp == at(1789486200)
    assert m.timestamp.tzinfo is not None and m.timestamp.utcoffset().total_seconds() == 0
    assert m.timestamp == datetime(2026, 9, 15, 15, 30, tzinfo=UTC)
    assert m.type == "text"
    assert m.text == "Hola, quiero hacer un pedido"
    assert m.context is None and m.interactive is None and m.media is None and m.errors == []


def test_interactive_button_reply_with_context():
    m = only_message("interactive_button_reply_operador.json")
    assert m.message_id == "wamid.SEJnTi1maXh0dXJlLWluLWJ0bi1vcGVyYWRvcg=="
    assert m.customer == LUCIA_NO_BSUID
    assert m.timestamp == at(1789486265)
    assert m.type == "interactive"
    assert m.interactive == InteractiveReply(
        kind="button_reply", id="handoff_operador", title="Hablar con operador"
    )
    assert m.context == ReplyContext(message_id="wamid.SEJnTi1maXh0dXJlLW91dC1tZW51LWJvdG9uZXM=", from_=SHOP)
    assert m.text is None
    assert m.preview() == "Hablar con operador"


def test_interactive_list_reply_with_description_and_context():
    m = only_message("interactive_list_reply_sucursal.json")
    assert m.message_id == "wamid.SEJnTi1maXh0dXJlLWluLWxpc3Qtc3VjdXJzYWw="
    assert m.customer == LUCIA
    assert m.timestamp == at(1789486360)
    assert m.interactive == InteractiveReply(
        kind="list_reply",
        id="sucursal_centro",
        title="Sucursal Centro",
        description="Av. Corrientes 1234, CABA",
    )
    assert m.context == ReplyContext(
        message_id="wamid.SEJnTi1maXh0dXJlLW91dC1saXN0YS1zdWN1cnNhbGVz", from_=SHOP
    )


def test_location_pin_without_name_or_address():
    m = only_message("location_envio.json")
    assert m.message_id == "wamid.SEJnTi1maXh0dXJlLWluLWxvY2F0aW9u"
    assert m.customer == LUCIA
    assert m.timestamp == at(1789486450)
    assert m.type == "location"
    assert m.location == Location(latitude=-34.6037389, longitude=-58.3815704)
    assert m.location.name is None and m.location.address is None and m.location.url is None


def test_text_quoting_a_bot_message_with_non_ascii_and_emoji():
    m = only_message("text_reply_context.json")
    assert m.message_id == "wamid.SEJnTi1maXh0dXJlLWluLWNvbmZpcm1v"
    assert m.customer == LUCIA_NO_BSUID
    assert m.timestamp == at(1789486562)
    assert m.text == "Sí, confirmo el pedido. ¿En cuánto llega? 🙏"
    assert m.context == ReplyContext(
        message_id="wamid.SEJnTi1maXh0dXJlLW91dC1yZXN1bWVuLXBlZGlkbw==", from_=SHOP
    )
    assert m.context.forwarded is False


def test_image_with_media_id_mime_sha_and_caption():
    m = only_message("image_comprobante.json")
    assert m.message_id == "wamid.SEJnTi1maXh0dXJlLWluLWltYWdl"
    assert m.customer == LUCIA_NO_BSUID
    assert m.timestamp == at(1789486855)
    assert m.type == "image"
    assert m.media == Media(
        id="1357924680135792",
        mime_type="image/jpeg",
        sha256="q1V3n0Jw6y0c3mS9Qe2mFq9m5vJc8bS2q0YxT1e7d4M=",
        caption="Te paso el comprobante de la transferencia",
    )
    assert m.media.url is None and m.media.filename is None and m.media.voice is None


def test_username_user_without_phone_is_keyed_by_bsuid():
    m = only_message("text_username_sin_telefono.json")
    assert m.message_id == "wamid.SEJnTi1maXh0dXJlLWluLXVzZXJuYW1l"
    assert m.customer == Customer(
        key="AR.4470192837465019", user_id="AR.4470192837465019", name="Caro", username="@caro.compras"
    )
    assert m.customer.wa_id is None
    assert m.timestamp == at(1789517100)
    assert m.text == "Hola, ¿el sábado abren la sucursal Centro?"


def test_unsupported_keeps_original_type_and_131051():
    m = only_message("unsupported_131051.json")
    assert m.message_id == "wamid.SEJnTi1maXh0dXJlLWluLXVuc3VwcG9ydGVk"
    assert m.customer == Customer(key="5491100000003", wa_id="5491100000003", name="Sofía")
    assert m.timestamp == at(1789514190)
    assert m.type == "unsupported"
    assert m.original_type == "poll_creation"
    assert m.errors == [
        ApiError(
            code=131051,
            title="Message type unknown",
            message="Message type unknown",
            details="Message type is currently not supported.",
        )
    ]
    assert m.preview() == "[poll_creation]"


EXPECTED_BATCH = [
    (
        "wamid.SEJnTi1maXh0dXJlLWluLWJhdGNoLW1hcnRpbg==",
        MARTIN,
        1789514101,
        "Buenas noches, ¿hacen delivery a Palermo?",
    ),
    (
        "wamid.SEJnTi1maXh0dXJlLWluLWJhdGNoLXNvZmlh",
        SOFIA,
        1789514102,
        "Hola! Quiero 2 docenas de empanadas de carne y una de jamón y queso",
    ),
]


def check_batch(batch):
    assert batch.ignored == [] and batch.statuses == []
    got = [(m.message_id, m.customer, m.timestamp, m.text) for m in batch.messages]
    assert got == [(wamid, customer, at(ts), text) for wamid, customer, ts, text in EXPECTED_BATCH]


def test_batch_of_two_contacts_parses_both_messages():
    check_batch(parse_webhook(raw("batch_two_contacts.json")))


def test_batch_contacts_are_joined_by_id_not_position():
    document = json.loads(raw("batch_two_contacts.json"))
    value = document["entry"][0]["changes"][0]["value"]
    value["contacts"].reverse()
    check_batch(parse_webhook(json.dumps(document).encode()))


def test_batch_contacts_join_by_user_id_when_phone_is_missing():
    document = json.loads(raw("batch_two_contacts.json"))
    value = document["entry"][0]["changes"][0]["value"]
    value["contacts"].reverse()
    for contact in value["contacts"]:
        del contact["wa_id"]
    for message in value["messages"]:
        del message["from"]
    batch = parse_webhook(json.dumps(document).encode())
    assert [(m.customer.key, m.customer.name) for m in batch.messages] == [
        ("AR.2284710093857461", "Martín Gómez"),
        ("AR.3391028475610293", "Sofía"),
    ]


def test_status_batch_keeps_meta_order_delivered_before_sent():
    batch = parse_webhook(raw("status_sent_delivered_batch.json"))
    assert batch.messages == [] and batch.ignored == []
    assert [(s.status, s.timestamp) for s in batch.statuses] == [
        ("delivered", at(1789486591)),
        ("sent", at(1789486590)),
    ]
    for status in batch.statuses:
        assert status.message_id == "wamid.SEJnTi1maXh0dXJlLW91dC1jb25maXJtYWNpb24="
        assert status.phone_number_id == PHONE_NUMBER_ID
        assert status.recipient == LUCIA
        assert status.errors == [] and status.callback_data is None


def test_status_read_v24_shape_without_contacts():
    batch = parse_webhook(raw("status_read.json"))
    [status] = batch.statuses
    assert status.message_id == "wamid.SEJnTi1maXh0dXJlLW91dC1jb25maXJtYWNpb24="
    assert status.status == "read"
    assert status.timestamp == at(1789486632)
    assert status.recipient == Customer(key="5491100000001", wa_id="5491100000001")


def test_status_failed_131047_outside_the_window():
    batch = parse_webhook(raw("status_failed_131047.json"))
    [status] = batch.statuses
    assert status.message_id == "wamid.SEJnTi1maXh0dXJlLW91dC1yZWNvcmRhdG9yaW8tZnVlcmEtZGUtdmVudGFuYQ=="
    assert status.status == "failed"
    assert status.timestamp == at(1789650004)
    assert status.recipient == Customer(key="5491100000002", wa_id="5491100000002")
    assert status.errors == [
        ApiError(
            code=131047,
            title="Re-engagement message",
            message="Re-engagement message",
            details="Message failed to send because more than 24 hours have passed since the customer last "
            "replied to this number.",
            href="/documentation/business-messaging/whatsapp/support/error-codes",
        )
    ]
