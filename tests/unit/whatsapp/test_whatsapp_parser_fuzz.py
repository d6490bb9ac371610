"""The parser's contract under garbage: it returns a batch or raises WebhookError, nothing else."""

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mostrador.whatsapp.webhook import WebhookBatch, WebhookError, parse_webhook

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "whatsapp"
SAMPLES = [json.loads(p.read_bytes()) for p in sorted(FIXTURES.glob("*.json"))]

# Text includes lone surrogates: json.dumps escapes them (backslash-u D8xx), as a broken sender could.
text = st.text(st.characters() | st.characters(categories=["Cs"]), max_size=20)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | text
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=30,
)
# Values that look like the real thing, so fuzzing reaches deep into messages and statuses.
KEYS = [
    "object",
    "entry",
    "changes",
    "value",
    "field",
    "metadata",
    "phone_number_id",
    "contacts",
    "messages",
    "statuses",
    "errors",
    "id",
    "from",
    "from_user_id",
    "wa_id",
    "user_id",
    "profile",
    "name",
    "timestamp",
    "type",
    "text",
    "body",
    "interactive",
    "button_reply",
    "list_reply",
    "nfm_reply",
    "title",
    "location",
    "latitude",
    "longitude",
    "image",
    "audio",
    "sticker",
    "reaction",
    "emoji",
    "context",
    "status",
    "code",
    "recipient_id",
    "recipient_user_id",
    "error_data",
    "details",
    "system",
    "order",
    "unsupported",
    "button",
]
shaped = st.recursive(
    scalars
    | st.sampled_from(
        [
            "whatsapp_business_account",
            "messages",
            "text",
            "interactive",
            "button_reply",
            "sent",
            "read",
            "failed",
            "1789486200",
            "5491100000001",
        ]
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=6),
    max_leaves=40,
)


def check(raw: bytes) -> None:
    try:
        result = parse_webhook(raw)
    except WebhookError:
        return
    assert isinstance(result, WebhookBatch)
    for item in [*result.messages, *result.statuses, *result.errors]:
        item.model_dump_json()  # everything parsed can travel in an event envelope (valid UTF-8)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes(raw):
    check(raw)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json(value):
    check(json.dumps(value).encode())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shaped)
def test_webhook_shaped_json(value):
    document = {
        "object": "whatsapp_business_account",
        "entry": [{"changes": [{"field": "messages", "value": value}]}],
    }
    check(json.dumps(document).encode())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SAMPLES), st.lists(st.sampled_from(KEYS), min_size=1, max_size=4), shaped)
def test_fixtures_with_a_field_replaced_by_garbage(sample, path, garbage):
    """Take a real fixture and overwrite one (possibly nested) field with anything."""
    document = json.loads(json.dumps(sample))
    message_or_status = document["entry"][0]["changes"][0]["value"]
    target = (message_or_status.get("messages") or message_or_status.get("statuses"))[0]
    for key in path[:-1]:
        nxt = target.get(key) if isinstance(target, dict) else None
        if not isinstance(nxt, dict):
            break
        target = nxt
    target[path[-1]] = garbage
    check(json.dumps(document).encode())


def test_lone_surrogates_and_huge_numbers_do_not_escape():
    head = b'{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":'
    for value in [
        (b'{"metadata":{"phone_number_id":"1"},"messages":[{"from":"\\ud800","id":"\\udfff",'
        b'"timestamp":"1","type":"text","text":{"body":"\\ud83d"}}]}'),
        (b'{"metadata":{"phone_number_id":"1"},"messages":[{"from":"1","id":"w","timestamp":1e400,'
        b'"type":"location","location":{"latitude":1e400,"longitude":NaN}}]}'),
    ]:
        check(head + value + b"}]}]}")
    check(b'{"object":"whatsapp_business_account","entry":[' + b"1" * 5000 + b"]}")
