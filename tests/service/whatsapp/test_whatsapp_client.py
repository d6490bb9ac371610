"""WhatsAppClient against the fake Graph, in-process: payloads, limits, retries, pacing, media, statuses."""

import asyncio

import httpx
import pytest

from mostrador.events.schemas.common import (
    ButtonOption,
    Customer,
    ListRow,
    ListSection,
    OutboundContent,
    TemplateSpec,
)
from mostrador.whatsapp.client import WhatsAppClient
from mostrador.whatsapp.errors import ContentError, WhatsAppError
from mostrador.whatsapp.fakegraph import create_fake_graph
from mostrador.whatsapp.fakegraph_payloads import InboundSpec
from mostrador.whatsapp.signature import verify
from mostrador.whatsapp.webhook import parse_webhook
from tests.service.whatsapp.whatsapp_rig import PHONE_NUMBER_ID, SECRET, TOKEN, make_receiver

pytestmark = pytest.mark.service

LUCIA = Customer(
    key="5491100000001", wa_id="5491100000001", user_id="AR.1093847561029384", name="Lucía Fernández"
)
MARTIN = Customer(key="5491100000002", wa_id="5491100000002", name="Martín Gómez")
CARO = Customer(key="AR.4470192837465019", user_id="AR.4470192837465019", name="Caro")
TEXT = OutboundContent(kind="text", text="¡Hola! ¿Qué te gustaría pedir?")

EVERY_KIND = [
    ("text", TEXT),
    (
        "interactive.button",
        OutboundContent(
            kind="buttons",
            text="¿Cómo seguimos?",
            header="Doña Rosa",
            footer="Elegí",
            buttons=[
                ButtonOption(id="pedido", title="Hacer un pedido"),
                ButtonOption(id="handoff_operador", title="Hablar con operador"),
            ],
        ),
    ),
    (
        "interactive.list",
        OutboundContent(
            kind="list",
            text="¿Dónde retirás?",
            list_button="Ver sucursales",
            sections=[
                ListSection(
                    title="Capital",
                    rows=[
                        ListRow(id="centro", title="Sucursal Centro", description="Corrientes 1234"),
                        ListRow(id="palermo", title="Sucursal Palermo"),
                    ],
                )
            ],
        ),
    ),
    (
        "interactive.location_request_message",
        OutboundContent(kind="location_request", text="¿A dónde lo llevamos?"),
    ),
    (
        "interactive.cta_url",
        OutboundContent(
            kind="cta_url", text="Nuestro menú", url="https://example.com/menu", url_label="Ver menú"
        ),
    ),
    (
        "template",
        OutboundContent(
            kind="template", template=TemplateSpec(name="pedido_listo", parameters=["Lucía", "#1042"])
        ),
    ),
    ("image", OutboundContent(kind="image", media_link="https://example.com/menu.jpg", text="Menú del día")),
]


async def test_every_kind_is_accepted_and_sent_exactly_as_built(rig):
    client = rig.client()
    results = [await client.send(LUCIA, content, key=f"msg-{i}") for i, (_, content) in enumerate(EVERY_KIND)]
    assert all(r.attempts == 1 and r.wamid.startswith("wamid.") for r in results)
    assert len({r.wamid for r in results}) == len(EVERY_KIND)
    sends = rig.fake.requests
    assert [r["type"] for r in sends] == [kind for kind, _ in EVERY_KIND]
    assert [r["status_code"] for r in sends] == [200] * len(EVERY_KIND)
    for i, ((_, content), request) in enumerate(zip(EVERY_KIND, sends, strict=True)):
        assert request["body"] == client.build_payload(LUCIA, content, callback_data=f"msg-{i}")
        assert request["key"] == f"msg-{i}" and request["recipient"] == "5491100000001"
    await client.aclose()


async def test_quoted_reply_and_bsuid_recipient(rig):
    async with rig.client() as client:
        await client.send(CARO, TEXT, key="k1", reply_to="wamid.customer")
    [request] = rig.fake.requests
    assert request["body"]["recipient"] == "AR.4470192837465019" and "to" not in request["body"]
    assert request["body"]["context"] == {"message_id": "wamid.customer"}
    assert request["recipient"] == "AR.4470192837465019"


async def test_limits_are_rejected_before_any_http_call(rig):
    client = rig.client()
    too_many = OutboundContent(
        kind="buttons", text="x", buttons=[ButtonOption(id=str(i), title=str(i)) for i in range(4)]
    )
    with pytest.raises(ContentError, match="1 to 3 buttons"):
        await client.send(LUCIA, too_many, key="k")
    with pytest.raises(ContentError, match="4097"):
        await client.send(LUCIA, OutboundContent(kind="text", text="x" * 4097), key="k")
    assert rig.fake.requests == []
    await client.aclose()


async def test_130429_is_retried_after_retry_after(rig):
    await rig.inject(code=130429, retry_after=7)
    async with rig.client() as client:
        result = await client.send(LUCIA, TEXT, key="k-429")
    assert result.attempts == 2
    assert rig.time.waits == [7.0]  # exactly the server's Retry-After, no jitter on top
    assert [r["status_code"] for r in rig.fake.requests] == [429, 200]
    assert rig.fake.sends_per_key["k-429"] == 1


async def test_500_is_retried_with_exponential_backoff_and_full_jitter(rig):
    await rig.inject(http_status=500, count=2)
    async with rig.client() as client:  # random() = 0.5: waits are half of 0.5 s, 1 s
        result = await client.send(LUCIA, TEXT, key="k-500")
    assert result.attempts == 3
    assert rig.time.waits == [0.25, 0.5]
    assert [r["status_code"] for r in rig.fake.requests] == [500, 500, 200]
    assert [r["error_code"] for r in rig.fake.requests[:2]] == [131000, 131000]


async def test_gives_up_after_max_attempts(rig):
    await rig.inject(code=131016, count=10)
    async with rig.client(max_attempts=3) as client:
        with pytest.raises(WhatsAppError) as caught:
            await client.send(LUCIA, TEXT, key="k")
    assert (caught.value.code, caught.value.retryable, caught.value.attempts) == (131016, True, 3)
    assert len(rig.fake.requests) == 3 and rig.fake.sends_per_key == {}


@pytest.mark.parametrize("code", [131047, 131026])
async def test_permanent_errors_raise_at_once_typed(rig, code):
    await rig.inject(code=code)
    async with rig.client() as client:
        with pytest.raises(WhatsAppError) as caught:
            await client.send(LUCIA, TEXT, key="k")
    error = caught.value
    assert (error.code, error.http_status, error.retryable, error.attempts) == (code, 400, False, 1)
    assert error.outside_window is (code == 131047)
    assert error.details and error.fbtrace_id
    assert len(rig.fake.requests) == 1 and rig.time.waits == []


async def test_bad_token_is_not_retried(rig):
    async with rig.client(access_token="expired") as client:
        with pytest.raises(WhatsAppError) as caught:
            await client.send(LUCIA, TEXT, key="k")
    assert (caught.value.code, caught.value.http_status, caught.value.retryable) == (190, 401, False)
    assert len(rig.fake.requests) == 1


async def test_pair_limit_backs_off_only_that_recipient(rig):
    await rig.inject(code=131056, recipient="5491100000001")
    async with rig.client(random=lambda: 0.0) as client:
        lucia, martin = await asyncio.gather(
            client.send(LUCIA, TEXT, key="l"), client.send(MARTIN, TEXT, key="m")
        )
    assert (lucia.attempts, martin.attempts) == (2, 1)
    assert rig.time.waits == [1.0]  # 4^0 s, for Lucía only
    assert [(r["recipient"], r["status_code"]) for r in rig.fake.requests] == [
        ("5491100000001", 429),
        ("5491100000002", 200),
        ("5491100000001", 200),
    ]


async def test_pair_back_off_holds_later_sends_to_that_recipient_too(rig):
    await rig.inject(code=131056, recipient="5491100000001")
    async with rig.client(random=lambda: 0.0) as client:
        await client.send(LUCIA, TEXT, key="first")
        assert rig.time.waits == [1.0]
        await client.send(LUCIA, TEXT, key="second")  # the clock has not moved: Lucía is still held
        assert rig.time.waits == [1.0, 1.0]
        await client.send(MARTIN, TEXT, key="other")
        assert rig.time.waits == [1.0, 1.0]


async def test_throughput_is_paced(rig):
    customers = [Customer(key=f"54911000010{i:02d}", wa_id=f"54911000010{i:02d}") for i in range(12)]
    async with rig.client(throughput=5) as client:
        results = await asyncio.gather(*(client.send(c, TEXT, key=c.key) for c in customers))
    assert all(r.attempts == 1 for r in results)
    # 5 at once (one second's worth), the next 5 a second later, the last 2 a second after that:
    # never more than 5 in one second (the clock stands still; each send goes at its wait).
    assert sorted(rig.time.waits) == [1.0] * 5 + [2.0] * 2
    sent_at = sorted([0.0] * (len(customers) - len(rig.time.waits)) + rig.time.waits)
    assert max(sum(1 for t in sent_at if start <= t < start + 1) for start in sent_at) == 5


async def test_pair_pacing_for_one_customer(rig):
    async with rig.client(pair_burst=2, pair_interval=6.0) as client:
        for i in range(4):
            await client.send(LUCIA, TEXT, key=f"k{i}")
    assert rig.time.waits == [6.0, 12.0]


async def test_transport_errors_are_retried():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ConnectTimeout("slow", request=request)
        return httpx.Response(200, json={"messages": [{"id": "wamid.ok"}]})

    waits = []

    async def sleep(seconds):
        waits.append(seconds)

    client = WhatsAppClient(
        base_url="https://graph.facebook.com/v25.0",
        phone_number_id=PHONE_NUMBER_ID,
        access_token=TOKEN,
        transport=httpx.MockTransport(handler),
        sleep=sleep,
        random=lambda: 1.0,
    )
    result = await client.send(LUCIA, TEXT, key="k")
    assert (result.wamid, result.attempts, waits) == ("wamid.ok", 2, [0.5])
    assert str(calls[0].url) == f"https://graph.facebook.com/v25.0/{PHONE_NUMBER_ID}/messages"
    assert calls[0].headers["authorization"] == f"Bearer {TOKEN}"
    await client.aclose()


def flaky_graph(failure):
    """A Graph API whose first call fails with ``failure`` (a transport error); the calls it saw."""
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise failure("lost", request=request)
        return httpx.Response(200, json={"messages": [{"id": "wamid.ok"}]})

    async def no_wait(_seconds):
        pass

    client = WhatsAppClient(base_url="https://graph.facebook.com/v25.0", phone_number_id=PHONE_NUMBER_ID,
                            access_token=TOKEN, transport=httpx.MockTransport(handler), sleep=no_wait)
    return client, calls


@pytest.mark.parametrize("failure", [httpx.ReadTimeout, httpx.WriteTimeout, httpx.ReadError,
                                     httpx.RemoteProtocolError])
async def test_a_send_that_may_have_reached_meta_is_not_retried(failure):
    """Its answer was lost after the request went out: sending again could reach the customer twice,
    so the caller gets it back (maybe_sent) and first waits for the status webhook."""
    client, calls = flaky_graph(failure)
    async with client:
        with pytest.raises(WhatsAppError) as caught:
            await client.send(LUCIA, TEXT, key="k")
    assert len(calls) == 1
    assert (caught.value.maybe_sent, caught.value.retryable, caught.value.attempts) == (True, True, 1)


@pytest.mark.parametrize("failure", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
async def test_a_send_that_never_left_is_retried_at_once(failure):
    client, calls = flaky_graph(failure)
    async with client:
        result = await client.send(LUCIA, TEXT, key="k")
    assert (len(calls), result.attempts, result.wamid) == (2, 2, "wamid.ok")


async def test_a_read_receipt_whose_answer_was_lost_is_retried():
    """Marking as read is idempotent: a lost answer is simply asked again."""
    client, calls = flaky_graph(httpx.ReadTimeout)
    async with client:
        await client.mark_read("wamid.customer")
    assert len(calls) == 2


async def test_accepted_without_wamid_is_not_retried():
    client = WhatsAppClient(
        base_url="https://g/v25.0",
        phone_number_id="1",
        access_token="t",
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"ok": True})),
    )
    with pytest.raises(WhatsAppError, match="without a message id") as caught:
        await client.send(LUCIA, TEXT, key="k")
    assert caught.value.retryable is False
    await client.aclose()


async def test_mark_read_with_typing(rig):
    inbound = await rig.fake.send_inbound(InboundSpec(wa_id="5491100000001", text="Hola"))
    async with rig.client() as client:
        await client.mark_read(inbound["wamid"], typing=True)
    [request] = [r for r in rig.fake.requests if r.get("type") == "read"]
    assert request["body"] == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": inbound["wamid"],
        "typing_indicator": {"type": "text"},
    }
    [chat] = [c for c in rig.fake.conversations() if c["customer"]["key"] == "5491100000001"]
    assert chat["messages"][0]["read"] is True and chat["typing"] is True


async def test_get_media_round_trip(rig):
    data = b"\x89PNG\r\n\x1a\n-comprobante-"
    media_id, _ = rig.fake.add_media(data, "image/png")
    async with rig.client() as client:
        assert await client.get_media(media_id) == (data, "image/png")
    paths = [(r["method"], r["path"], r["status_code"]) for r in rig.fake.requests]
    assert paths == [("GET", f"/v25.0/{media_id}", 200), ("GET", f"/_fake/download/{media_id}", 200)]


async def test_get_media_needs_the_token_and_an_existing_id(rig):
    media_id, _ = rig.fake.add_media(b"x", "image/jpeg")
    async with rig.client(access_token="wrong") as client:
        with pytest.raises(WhatsAppError) as caught:
            await client.get_media(media_id)
    assert caught.value.code == 190
    async with rig.client() as client:
        with pytest.raises(WhatsAppError) as caught:
            await client.get_media("404404")
    assert (caught.value.code, caught.value.retryable) == (100, False)
    download = await rig.control.get(
        f"/_fake/download/{media_id}"
    )  # the download URL itself is bearer-checked
    assert download.status_code == 401


async def test_callback_key_is_recorded_and_counted(rig):
    async with rig.client() as client:
        await client.send(LUCIA, TEXT, key="reply-1")
        await client.send(LUCIA, TEXT, key="reply-2")
        await client.send(LUCIA, TEXT, key="reply-2")
    assert rig.fake.sends_per_key == {"reply-1": 1, "reply-2": 2}
    listed = (await rig.control.get("/_fake/requests")).json()
    assert listed["sends_per_key"] == {"reply-1": 1, "reply-2": 2}
    assert [r["key"] for r in listed["requests"]] == ["reply-1", "reply-2", "reply-2"]


async def test_status_webhooks_are_signed_and_carry_our_key(rig):
    async with rig.client() as client:
        result = await client.send(LUCIA, TEXT, key="our-msg-1")
    await rig.fake.settle()
    assert len(rig.receiver.received) == 2
    assert all(r.signed for r in rig.receiver.received)
    assert not any(verify("other-secret", r.raw, r.signature) for r in rig.receiver.received)
    statuses = [s for r in rig.receiver.received for s in parse_webhook(r.raw).statuses]
    assert [s.status for s in statuses] == ["sent", "delivered"]
    for status in statuses:
        assert status.message_id == result.wamid
        assert status.callback_data == "our-msg-1"
        assert status.recipient.key == "5491100000001" and status.recipient.user_id == "AR.1093847561029384"
        assert status.phone_number_id == PHONE_NUMBER_ID


async def test_customer_reading_emits_a_read_status(rig):
    async with rig.client() as client:
        first = await client.send(LUCIA, TEXT, key="a")
        second = await client.send(LUCIA, TEXT, key="b")
    await rig.fake.settle()
    assert (await rig.control.post("/_fake/read", json={"customer": "5491100000001"})).json() == {"read": 2}
    reads = [s for s in parse_webhook(rig.receiver.received[-1].raw).statuses]
    assert [(s.status, s.message_id, s.callback_data) for s in reads] == [
        ("read", first.wamid, "a"),
        ("read", second.wamid, "b"),
    ]
    assert (await rig.control.post("/_fake/read", json={"customer": "5491100000001"})).json() == {"read": 0}


async def test_async_131047_arrives_as_a_failed_status(rig):
    await rig.inject(code=131047, mode="async")
    async with rig.client() as client:
        result = await client.send(MARTIN, TEXT, key="late")
    await rig.fake.settle()
    [received] = rig.receiver.received
    assert received.signed
    [status] = parse_webhook(received.raw).statuses
    assert (status.status, status.message_id, status.callback_data) == ("failed", result.wamid, "late")
    assert [e.code for e in status.errors] == [131047]
    assert status.errors[0].details.startswith("Message failed to send because more than 24 hours")


async def test_auto_read_fake_emits_read_too():
    receiver = make_receiver()
    graph = create_fake_graph(
        app_secret=SECRET,
        webhook_url="http://app/webhooks/whatsapp",
        auto_read=True,
        webhook_transport=httpx.ASGITransport(receiver.app),
        status_delays=(0, 0),
    )
    async with WhatsAppClient(
        base_url="http://g/v25.0",
        phone_number_id=PHONE_NUMBER_ID,
        access_token="any",
        transport=httpx.ASGITransport(graph),
    ) as client:
        await client.send(LUCIA, TEXT, key="k")
    await graph.state.fake.settle()
    assert [parse_webhook(r.raw).statuses[0].status for r in receiver.received] == [
        "sent",
        "delivered",
        "read",
    ]
