"""Fuzzing the webhook endpoint from outside (the ingest service's ASGI app, in process, with its real
lifespan and the in-memory bus): whatever arrives — any bytes, any JSON, deep nesting, bad UTF-8, wrong
types, oversized, streamed — the answer is a clear 2xx or 4xx, never a 5xx or a crash; and a valid
customer message inside a batch full of garbage is always published (never lost with the garbage).

The parser itself is fuzzed in tests/unit/whatsapp/test_whatsapp_parser_fuzz.py; this is the endpoint:
size cap, signature, parsing and publishing together, as Meta (or an attacker) reaches them."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mostrador.events.memory import InMemoryBroker, InMemoryBus
from mostrador.events.schemas.ingest import MessageReceived
from tests.e2e.harness import sign

pytestmark = pytest.mark.timeout(300)
SECRET = "fuzz-app-secret"
MAX_BODY = 64 * 1024
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.function_scoped_fixture])


class Ingest:
    def __init__(self, client: TestClient, published: list) -> None:
        self.client, self.published = client, published

    def post(self, body: bytes, *, signed: bool = True, **headers: str):
        headers = {"Content-Type": "application/json", **headers}
        if signed:
            headers["X-Hub-Signature-256"] = sign(body, SECRET)
        return self.client.post("/webhooks/whatsapp", content=body, headers=headers)

    def wamids(self) -> set[str]:
        return {e.payload.message.message_id for e in self.published if isinstance(e.payload, MessageReceived)}


@pytest.fixture(scope="module")
def ingest(tmp_path_factory):
    from mostrador.ingest.service import build
    from mostrador.platform.http import create_app
    from mostrador.platform.service import Context
    from mostrador.platform.settings import Settings

    bus = InMemoryBus(InMemoryBroker())
    published: list = []
    real_publish = bus.publish

    async def recording_publish(envelope, *, timeout: float = 10.0):
        await real_publish(envelope, timeout=timeout)
        published.append(envelope)  # confirmed: what ingest answers 200 for

    bus.publish = recording_publish
    cfg = Settings(data_dir=tmp_path_factory.mktemp("ingest"), database_url=None, amqp_url=None,  # SQLite
                   whatsapp_app_secret=SECRET,
                   whatsapp_verify_token="fuzz-verify-token", whatsapp_max_body_bytes=MAX_BODY, log_level="ERROR",
                   log_format="console")
    app = create_app("ingest", bus, [build(Context(settings=cfg, bus=bus))])
    with TestClient(app, raise_server_exceptions=False) as client:  # a 500 shows up as a 500, not a raise
        yield Ingest(client, published)


def clear_answer(response) -> None:
    assert 200 <= response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code >= 400:
        body = response.json()
        assert body.get("error") and body.get("message"), body  # a clear 4xx says what was wrong


# -- any input ---------------------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=40)


@FUZZ
@given(st.binary(max_size=3000))
def test_any_signed_bytes_get_a_clear_2xx_or_4xx(ingest, body):
    clear_answer(ingest.post(body))


@FUZZ
@given(st.binary(max_size=500), st.sampled_from([None, "", "sha256=", "sha256=00", "sha1=ab", "garbage"]))
def test_unsigned_or_forged_bytes_are_refused_with_401(ingest, body, signature):
    headers = {} if signature is None else {"X-Hub-Signature-256": signature}
    response = ingest.post(body, signed=False, **headers)
    assert response.status_code == 401, response.text
    clear_answer(response)


@FUZZ
@given(json_values)
def test_any_json_gets_a_clear_2xx_or_4xx(ingest, value):
    clear_answer(ingest.post(json.dumps(value).encode()))


@FUZZ
@given(st.text(max_size=40), st.text(max_size=40), st.text(max_size=40))
def test_the_verification_handshake_never_errs(ingest, mode, token, challenge):
    response = ingest.client.get("/webhooks/whatsapp", params={"hub.mode": mode, "hub.verify_token": token,
                                                               "hub.challenge": challenge})
    assert response.status_code == 403


def test_the_handshake_echoes_the_challenge_only_with_the_token(ingest):
    ok = ingest.client.get("/webhooks/whatsapp", params={"hub.mode": "subscribe", "hub.verify_token":
                                                         "fuzz-verify-token", "hub.challenge": "1158201444"})
    assert (ok.status_code, ok.text) == (200, "1158201444")


# -- hostile shapes -----------------------------------------------------------------------------------
HEAD = b'{"object":"whatsapp_business_account","entry":['


@pytest.mark.parametrize("body", [
    HEAD + b"[" * 20_000 + b"]" * 20_000 + b"]}",  # far deeper than any parser's recursion limit
    HEAD + b'{"changes":' + b'{"a":' * 5_000 + b"1" + b"}" * 5_000 + b"}]}",
    b"[" * 25_000 + b"]" * 25_000,
], ids=["nested-lists", "nested-objects", "bare-nesting"])
def test_deeply_nested_json_gets_400(ingest, body):
    response = ingest.post(body)
    assert response.status_code == 400, response.text
    clear_answer(response)


@pytest.mark.parametrize("body", [
    b'{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"x":"\xff\xfe"}}]}]}',
    b"\xef\xbb\xbf" + b'{"object": 1}',  # a BOM, then a wrong type
    b'{"object":"whatsapp_business_account","entry":"\xc3\x28"}',
    "{\"object\": \"whatsapp_business_account\", \"entry\": []}".encode("utf-16"),
], ids=["invalid-utf8", "bom", "overlong", "utf16"])
def test_badly_encoded_bodies_get_a_clear_answer(ingest, body):
    clear_answer(ingest.post(body))


@pytest.mark.parametrize("document", [
    {"object": "whatsapp_business_account", "entry": "x"},
    {"object": "whatsapp_business_account", "entry": [{"changes": {"field": "messages"}}]},
    {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": []}]}]},
    {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": {
        "metadata": {"phone_number_id": 123}, "messages": {"id": "w"}, "statuses": "sent"}}]}]},
    {"object": ["whatsapp_business_account"], "entry": []},
    {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": {
        "metadata": {"phone_number_id": "1"}, "messages": [{"from": 5491100000001, "id": ["w"],
                                                            "timestamp": {"t": 1}, "type": 7}]}}]}]},
], ids=["entry-string", "changes-object", "value-list", "wrong-containers", "object-list", "wrong-scalars"])
def test_wrong_types_get_a_clear_answer_and_publish_nothing(ingest, document):
    before = len(ingest.published)
    clear_answer(ingest.post(json.dumps(document).encode()))
    assert len(ingest.published) == before


def test_oversized_bodies_get_413_declared_or_streamed(ingest):
    big = HEAD + b'{"pad":"' + b"x" * (MAX_BODY + 10) + b'"}]}'
    declared = ingest.post(big)
    assert declared.status_code == 413
    clear_answer(declared)

    def chunks():  # no Content-Length: the cap must hold while streaming too
        for i in range(0, len(big), 8192):
            yield big[i:i + 8192]

    streamed = ingest.client.post("/webhooks/whatsapp", content=chunks(),
                                  headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(big, SECRET)})
    assert streamed.status_code == 413


# -- a valid message among garbage is never lost ------------------------------------------------------
PHONE_NUMBER_ID = "109876543210987"
garbage = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    | st.sampled_from(["whatsapp_business_account", "messages", "text", "5491100000001", "1789486200"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["id", "from", "type", "text", "timestamp", "body", "changes", "value", "field",
                         "messages", "statuses", "contacts", "wa_id", "metadata", "status", "errors"]),
        inner, max_size=5),
    max_leaves=25)


@st.composite
def batches_hiding_a_valid_message(draw):
    n = draw(st.integers(0, 10**9))
    wamid, phone = f"wamid.FUZZ{n}", f"54911{n % 10**8:08d}"
    message = {"from": phone, "id": wamid, "timestamp": "1789486200", "type": "text", "text": {"body": "Hola"}}
    contact = {"profile": {"name": "Cliente"}, "wa_id": phone}
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "5491100000000", "phone_number_id": PHONE_NUMBER_ID},
             "contacts": draw(st.permutations([contact, *draw(st.lists(garbage, max_size=3)),
                                               # a second, broken contact for the same customer
                                               *draw(st.lists(st.fixed_dictionaries(
                                                   {"wa_id": st.just(phone), "profile": garbage}), max_size=1))])),
             "messages": draw(st.permutations([message, *draw(st.lists(garbage, max_size=4))])),
             "statuses": draw(st.lists(garbage, max_size=3))}
    changes = draw(st.permutations([{"field": "messages", "value": value},
                                    *draw(st.lists(garbage, max_size=3))]))
    entries = draw(st.permutations([{"id": "102030405060708", "changes": changes},
                                    *draw(st.lists(garbage, max_size=3))]))
    return wamid, {"object": "whatsapp_business_account", "entry": entries}


@FUZZ
@given(batches_hiding_a_valid_message())
def test_a_valid_message_among_garbage_is_accepted_and_published(ingest, case):
    wamid, document = case
    response = ingest.post(json.dumps(document).encode())
    assert response.status_code == 200, response.text
    assert wamid in ingest.wamids(), "the valid message was lost with the garbage"
