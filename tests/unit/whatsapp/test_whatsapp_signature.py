import hashlib
import hmac
from pathlib import Path

import pytest

from mostrador.whatsapp.signature import handshake, sign, verify

pytestmark = pytest.mark.unit

SECRET = "test-app-secret"
BODY = (
    Path(__file__).resolve().parents[2] / "fixtures" / "whatsapp" / "text_reply_context.json"
).read_bytes()


def test_sign_is_hmac_sha256_of_the_raw_bytes_with_lowercase_hex():
    expected = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY) == "sha256=" + expected
    assert expected == expected.lower()


def test_meta_documented_example_header_format():
    header = sign("secret", b"{}")
    assert header.startswith("sha256=") and len(header) == len("sha256=") + 64


def test_valid_signature_is_accepted():
    assert verify(SECRET, BODY, sign(SECRET, BODY))


def test_uppercase_hex_is_accepted():
    assert verify(SECRET, BODY, "sha256=" + sign(SECRET, BODY).removeprefix("sha256=").upper())


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha256=" + "0" * 64,
        sign("another-secret", BODY),
        sign(SECRET, BODY).replace("sha256=", "sha1="),
        sign(SECRET, BODY).removeprefix("sha256="),  # no prefix
        "SHA256=" + sign(SECRET, BODY).removeprefix("sha256="),
        sign(SECRET, BODY) + "00",
        "sha256=ñandú",  # non-ASCII must not raise
    ],
)
def test_wrong_missing_or_malformed_signatures_are_rejected(header):
    assert verify(SECRET, BODY, header) is False


def test_a_re_serialised_body_does_not_verify():
    import json

    reserialised = json.dumps(json.loads(BODY), ensure_ascii=False).encode()
    assert not verify(SECRET, reserialised, sign(SECRET, BODY))


def test_tampered_body_is_rejected():
    assert not verify(SECRET, BODY.replace(b"confirmo", b"cancelo!"), sign(SECRET, BODY))


def test_empty_secret_never_verifies():
    assert not verify("", b"{}", sign("", b"{}"))


def test_handshake_echoes_the_challenge_verbatim():
    assert handshake("subscribe", "my-token", "1158201444", "my-token") == "1158201444"
    assert handshake("subscribe", "my-token", "abc-XYZ_09", "my-token") == "abc-XYZ_09"


@pytest.mark.parametrize(
    ("mode", "token", "challenge"),
    [
        ("subscribe", "wrong", "1"),
        ("subscribe", None, "1"),
        ("unsubscribe", "my-token", "1"),
        (None, "my-token", "1"),
        ("subscribe", "my-token", None),
        ("subscribe", "my-token-and-more", "1"),
        ("subscribe", "ñ", "1"),
    ],
)
def test_handshake_refuses_wrong_token_mode_or_missing_challenge(mode, token, challenge):
    assert handshake(mode, token, challenge, "my-token") is None


def test_handshake_refuses_when_no_verify_token_is_configured():
    assert handshake("subscribe", "", "1", "") is None
