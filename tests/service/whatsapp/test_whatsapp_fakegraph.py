"""The fake Graph on its own: Meta's shapes, error injection, inbound webhooks, records, embedded mounting."""

import asyncio
import base64

import httpx
import pytest
from fastapi import FastAPI

from mostrador.events.schemas.common import Customer, OutboundContent
from mostrador.whatsapp.client import WhatsAppClient
from mostrador.whatsapp.fakegraph import create_fake_graph
from mostrador.whatsapp.fakegraph_payloads import build_inbound, encode, message_id_of
from mostrador.whatsapp.simulator import simulator_router
from mostrador.whatsapp.webhook import parse_webhook
from tests.service.whatsapp.whatsapp_rig import PHONE_NUMBER_ID, SECRET, TOKEN, make_receiver

pytestmark = pytest.mark.service

AUTH = {"Authorization": f"Bearer {TOKEN}"}
MESSAGES = f"/v25.0/{PHONE_NUMBER_ID}/messages"
TEXT_BODY = {
    "messaging_product": "whatsapp",
    "to": "+54 9 11 0000-0001",
    "type": "text",
    "text": {"body": "hola"},
}


async def test_success_shape_and_phone_formatting(rig):
    response = await rig.control.post(MESSAGES, json=TEXT_BODY, headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    assert body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": "+54 9 11 0000-0001", "wa_id": "5491100000001"}]
    assert body["messages"][0]["id"].startswith("wamid.")
    assert rig.fake.requests[0]["recipient"] == "5491100000001"  # the known preset, not a new customer


@pytest.mark.parametrize(
    ("body", "code", "status"),
    [
        (TEXT_BODY | {"type": "carrier_pigeon", "carrier_pigeon": {}}, 100, 400),
        (TEXT_BODY | {"messaging_product": "sms"}, 100, 400),
        ({"messaging_product": "whatsapp", "type": "text", "text": {"body": "x"}}, 100, 400),
        (TEXT_BODY | {"to": "not-a-phone"}, 100, 400),
        (TEXT_BODY | {"text": {"body": ""}}, 131009, 400),
        (
            TEXT_BODY
            | {
                "type": "interactive",
                "interactive": {
                    "type": "button",
                    "body": {"text": "x"},
                    "action": {
                        "buttons": [
                            {"type": "reply", "reply": {"id": str(i), "title": "t" + str(i)}}
                            for i in range(4)
                        ]
                    },
                },
            },
            131009,
            400,
        ),
        (TEXT_BODY | {"type": "interactive", "interactive": {"type": "carousel", "action": {}}}, 100, 400),
        (TEXT_BODY | {"type": "template", "template": {"name": "x"}}, 131008, 400),
        ("not json at all", 100, 400),
    ],
)
async def test_bad_bodies_get_meta_errors(rig, body, code, status):
    kwargs = {"content": body} if isinstance(body, str) else {"json": body}
    response = await rig.control.post(MESSAGES, headers=AUTH, **kwargs)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error["type"] == "OAuthException"
    assert error["message"].startswith(f"(#{code})") and error["fbtrace_id"]
    assert rig.fake.sends_per_key == {} and rig.fake.outbound == {}


async def test_bearer_token_is_checked(rig):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {TOKEN}"}):
        response = await rig.control.post(MESSAGES, json=TEXT_BODY, headers=headers)
        assert response.status_code == 401 and response.json()["error"]["code"] == 190


async def test_unknown_phone_number_id(rig):
    response = await rig.control.post("/v25.0/1/messages", json=TEXT_BODY, headers=AUTH)
    assert response.status_code == 400 and response.json()["error"]["code"] == 100


async def test_mark_as_read_answers_success(rig):
    body = {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.unknown"}
    response = await rig.control.post(MESSAGES, json=body, headers=AUTH)
    assert response.json() == {"success": True}


async def test_injected_error_shape_retry_after_and_recipient_filter(rig):
    await rig.inject(code=130429, retry_after=3, recipient="5491100000002")
    ok = await rig.control.post(MESSAGES, json=TEXT_BODY, headers=AUTH)  # Lucía: not matched
    assert ok.status_code == 200
    limited = await rig.control.post(MESSAGES, json=TEXT_BODY | {"to": "5491100000002"}, headers=AUTH)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
    assert limited.json()["error"]["code"] == 130429 and limited.json()["error"]["error_subcode"] == 2494055
    again = await rig.control.post(MESSAGES, json=TEXT_BODY | {"to": "5491100000002"}, headers=AUTH)
    assert again.status_code == 200  # count=1 consumed


async def test_error_queue_can_be_cleared(rig):
    await rig.inject(code=131047, count=5)
    await rig.control.delete("/_fake/errors")
    assert (await rig.control.post(MESSAGES, json=TEXT_BODY, headers=AUTH)).status_code == 200


async def test_webhook_delivery_retries_on_non_200(rig):
    rig.receiver.answers = [500, 503]
    result = (
        await rig.control.post("/_fake/inbound", json={"wa_id": "5491100000003", "text": "hola"})
    ).json()
    assert (result["status_code"], result["attempts"]) == (200, 3)
    assert len(rig.receiver.received) == 3 and len({r.raw for r in rig.receiver.received}) == 1  # same bytes
    rig.receiver.answers = [500, 500, 500]
    result = (
        await rig.control.post("/_fake/inbound", json={"wa_id": "5491100000003", "text": "otra"})
    ).json()
    assert (result["status_code"], result["attempts"]) == (500, 3)


async def test_inbound_without_identity_is_refused(rig):
    assert (await rig.control.post("/_fake/inbound", json={"text": "hola"})).status_code == 422


INBOUND_CASES = [
    (
        {
            "type": "button_reply",
            "reply_id": "handoff_operador",
            "reply_title": "Hablar con operador",
            "context_id": "wamid.menu",
        },
        lambda m: (
            (
                m.type,
                m.interactive.kind,
                m.interactive.id,
                m.interactive.title,
                m.context.message_id,
                m.context.from_,
            )
            == (
                "interactive",
                "button_reply",
                "handoff_operador",
                "Hablar con operador",
                "wamid.menu",
                "5491100000000",
            )
        ),
    ),
    (
        {
            "type": "list_reply",
            "reply_id": "centro",
            "reply_title": "Sucursal Centro",
            "reply_description": "Corrientes",
        },
        lambda m: (
            (m.interactive.kind, m.interactive.id, m.interactive.description)
            == ("list_reply", "centro", "Corrientes")
        ),
    ),
    (
        {"type": "location", "latitude": -34.6, "longitude": -58.38},
        lambda m: (m.location.latitude, m.location.longitude, m.location.name) == (-34.6, -58.38, None),
    ),
    ({"type": "sticker"}, lambda m: m.type == "sticker" and m.media.mime_type == "image/webp"),
    ({"type": "audio"}, lambda m: m.type == "audio" and m.media.voice is True),
    (
        {"type": "reaction", "reaction_to": "wamid.bot", "emoji": "❤️"},
        lambda m: (m.reaction.message_id, m.reaction.emoji) == ("wamid.bot", "❤️"),
    ),
    (
        {"type": "unsupported", "original_type": "poll_creation"},
        lambda m: (
            (m.type, m.original_type, [e.code for e in m.errors])
            == ("unsupported", "poll_creation", [131051])
        ),
    ),
]


@pytest.mark.parametrize(("fields", "check"), INBOUND_CASES)
async def test_inbound_kinds_parse_back(rig, fields, check):
    result = (await rig.control.post("/_fake/inbound", json={"wa_id": "5491100000001"} | fields)).json()
    [received] = rig.receiver.received
    assert received.signed
    [message] = parse_webhook(received.raw).messages
    assert message.message_id == result["wamid"]
    assert message.customer.key == "5491100000001" and message.customer.name == "Lucía Fernández"
    assert check(message)


async def test_photo_upload_then_image_message_then_bot_downloads_it(rig):
    photo = b"\xff\xd8\xff\xe0-fake-jpeg-"
    uploaded = (
        await rig.control.post(
            "/_fake/media", json={"data_base64": base64.b64encode(photo).decode(), "mime_type": "image/jpeg"}
        )
    ).json()
    await rig.control.post(
        "/_fake/inbound",
        json={
            "wa_id": "5491100000002",
            "type": "image",
            "media_id": uploaded["id"],
            "caption": "comprobante",
        },
    )
    [message] = parse_webhook(rig.receiver.received[0].raw).messages
    assert (message.media.id, message.media.mime_type, message.media.sha256, message.media.caption) == (
        uploaded["id"],
        "image/jpeg",
        uploaded["sha256"],
        "comprobante",
    )
    async with rig.client() as client:
        assert await client.get_media(message.media.id) == (photo, "image/jpeg")
    assert (await rig.control.get(f"/_fake/media/{uploaded['id']}")).content == photo


async def test_bad_upload_is_refused(rig):
    assert (await rig.control.post("/_fake/media", json={"data_base64": "%%%"})).status_code == 422


async def test_username_customer_inbound_has_no_phone(rig):
    await rig.control.post("/_fake/inbound", json={"user_id": "AR.4470192837465019", "text": "hola"})
    [message] = parse_webhook(rig.receiver.received[0].raw).messages
    assert message.customer.wa_id is None and message.customer.key == "AR.4470192837465019"
    assert message.customer.username == "@caro.compras"


async def test_invented_customer_gets_a_stable_bsuid(rig):
    await rig.control.post("/_fake/inbound", json={"wa_id": "5491155550000", "name": "Rosa", "text": "hola"})
    await rig.control.post("/_fake/inbound", json={"wa_id": "5491155550000", "text": "¿siguen ahí?"})
    first, second = (parse_webhook(r.raw).messages[0].customer for r in rig.receiver.received)
    assert first == second and first.name == "Rosa" and first.user_id.startswith("AR.")


async def test_conversations_show_both_sides_with_statuses(rig):
    inbound = (
        await rig.control.post("/_fake/inbound", json={"wa_id": "5491100000001", "text": "Hola"})
    ).json()
    async with rig.client() as client:
        sent = await client.send(
            Customer(key="5491100000001", wa_id="5491100000001"),
            OutboundContent(kind="text", text="¡Hola Lucía!"),
            key="r1",
            reply_to=inbound["wamid"],
        )
    await rig.fake.settle()
    data = (await rig.control.get("/_fake/conversations")).json()
    assert data["business"] == {"display_phone_number": "5491100000000", "phone_number_id": PHONE_NUMBER_ID}
    [chat] = [c for c in data["conversations"] if c["customer"]["key"] == "5491100000001"]
    assert chat["customer"]["name"] == "Lucía Fernández"
    assert [(m["direction"], m["wamid"]) for m in chat["messages"]] == [
        ("in", inbound["wamid"]),
        ("out", sent.wamid),
    ]
    incoming, outgoing = chat["messages"]
    assert incoming["message"]["text"] == {"body": "Hola"} and incoming["status_code"] == 200
    assert outgoing["status"] == "delivered" and outgoing["key"] == "r1"
    assert outgoing["body"]["text"]["body"] == "¡Hola Lucía!"


async def test_statuses_never_go_backwards():
    receiver = make_receiver()
    graph = create_fake_graph(
        app_secret=SECRET,
        webhook_url="http://app/webhooks/whatsapp",
        webhook_transport=httpx.ASGITransport(receiver.app),
        status_delays=(0, 0.15),
    )
    fake = graph.state.fake
    async with httpx.AsyncClient(transport=httpx.ASGITransport(graph), base_url="http://g") as http:
        await http.post(MESSAGES, json=TEXT_BODY)
        while not receiver.received:  # "sent" is out; "delivered" is due in 0.15 s
            await asyncio.sleep(0.005)
        assert (await http.post("/_fake/read", json={"customer": "5491100000001"})).json() == {"read": 1}
        await fake.settle()
    statuses = [s.status for r in receiver.received for s in parse_webhook(r.raw).statuses]
    assert statuses == ["sent", "read"]  # the late "delivered" is implied by "read" and not sent
    assert [o.status for o in fake.outbound.values()] == ["read"]


async def test_long_poll_waits_for_a_change(rig):
    version = (await rig.control.get("/_fake/conversations")).json()["version"]
    same = (await rig.control.get(f"/_fake/conversations?since={version}&wait=0.05")).json()
    assert same["version"] == version
    waiting = asyncio.create_task(rig.control.get(f"/_fake/conversations?since={version}&wait=5"))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    await rig.control.post("/_fake/inbound", json={"wa_id": "5491100000001", "text": "hola"})
    changed = (await asyncio.wait_for(waiting, 2)).json()
    assert changed["version"] > version


async def test_reset_clears_records(rig):
    await rig.control.post(MESSAGES, json=TEXT_BODY | {"biz_opaque_callback_data": "k"}, headers=AUTH)
    await rig.fake.settle()
    assert (await rig.control.delete("/_fake/requests")).json() == {"reset": True}
    listed = (await rig.control.get("/_fake/requests")).json()
    assert listed == {"requests": [], "sends_per_key": {}, "webhooks": []}


def test_build_inbound_helper_is_meta_shaped():
    payload = build_inbound(wa_id="5491100000001", name="Lucía", text="Hola", timestamp=1789486200)
    raw = encode(payload)
    assert b"Luc\\u00eda" in raw  # escaped like Meta's bodies
    [message] = parse_webhook(raw).messages
    assert message.message_id == message_id_of(payload)
    assert (message.text, message.customer.name, message.timestamp.timestamp()) == (
        "Hola",
        "Lucía",
        1789486200,
    )


async def test_embedded_mode_prefix_mounting_and_in_process_webhooks():
    """The sandbox shape: one app holds the webhook route, the fake Graph (/sandbox/graph) and /simulator."""
    outer = FastAPI()
    received = make_receiver()
    outer.mount("/ingest", received.app)
    transport = httpx.ASGITransport(outer)
    graph = create_fake_graph(
        app_secret=SECRET,
        webhook_url="http://sandbox/ingest/webhooks/whatsapp",
        access_token=TOKEN,
        webhook_transport=transport,
        status_delays=(0, 0),
    )
    outer.include_router(simulator_router(graph, api_prefix="/sandbox/graph"))
    outer.mount("/sandbox/graph", graph)
    fake = graph.state.fake
    media_id, _ = fake.add_media(b"jpeg!", "image/jpeg")
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as browser:
        result = (
            await browser.post(
                "/sandbox/graph/_fake/inbound", json={"wa_id": "5491100000001", "text": "hola"}
            )
        ).json()
        assert result["status_code"] == 200 and received.received[0].signed
        page = await browser.get("/simulator")
        assert '"api": "/sandbox/graph"' in page.text
    async with WhatsAppClient(
        base_url="http://sandbox/sandbox/graph/v25.0",
        phone_number_id=PHONE_NUMBER_ID,
        access_token=TOKEN,
        transport=transport,
    ) as client:
        assert await client.get_media(media_id) == (b"jpeg!", "image/jpeg")
        await client.send(
            Customer(key="5491100000001", wa_id="5491100000001"),
            OutboundContent(kind="text", text="hola"),
            key="k",
        )
    await fake.settle()
    assert [r["path"] for r in fake.requests][:2] == [
        f"/sandbox/graph/v25.0/{media_id}",
        f"/sandbox/graph/_fake/download/{media_id}",
    ]
    assert [s.status for r in received.received[1:] for s in parse_webhook(r.raw).statuses] == [
        "sent",
        "delivered",
    ]
