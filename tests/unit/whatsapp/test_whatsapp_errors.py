import httpx
import pytest

from mostrador.whatsapp.errors import from_response, from_transport, is_retryable

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("code", [130429, 131056, 131000, 131016, 131057, 1, 2, 4, 80007])
def test_transient_codes_are_retryable(code):
    assert is_retryable(code, 400)


@pytest.mark.parametrize(
    "code", [131047, 131026, 131051, 190, 0, 10, 200, 299, 100, 131008, 131009, 132000, 132001]
)
def test_permanent_codes_are_not_retryable_even_on_5xx(code):
    assert not is_retryable(code, 400)
    assert not is_retryable(code, 500)


def test_unknown_code_follows_http_status():
    assert is_retryable(999999, 502) and not is_retryable(999999, 400) and is_retryable(None, 503)
    assert not is_retryable(None, None)


def test_meta_error_shape_is_mapped():
    response = httpx.Response(
        429,
        headers={"Retry-After": "7"},
        json={
            "error": {
                "message": "(#130429) Rate limit hit",
                "type": "OAuthException",
                "code": 130429,
                "error_data": {
                    "messaging_product": "whatsapp",
                    "details": "Cloud API message throughput has been reached.",
                },
                "error_subcode": 2494055,
                "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam",
            }
        },
    )
    error = from_response(response)
    assert (
        error.code,
        error.http_status,
        error.title,
        error.details,
        error.retryable,
        error.retry_after,
        error.fbtrace_id,
        error.subcode,
    ) == (
        130429,
        429,
        "(#130429) Rate limit hit",
        "Cloud API message throughput has been reached.",
        True,
        7.0,
        "Az8or2yhqkZfEZ-_4Qn_Bam",
        2494055,
    )
    assert "130429" in str(error)


def test_non_json_gateway_error_is_retryable():
    error = from_response(httpx.Response(502, text="<html>Bad gateway</html>"))
    assert error.code is None and error.http_status == 502 and error.retryable


@pytest.mark.parametrize("header", ["soon", "-1", "Wed, 21 Oct 2026 07:28:00 GMT"])
def test_unusable_retry_after_is_ignored(header):
    assert (
        from_response(
            httpx.Response(429, headers={"Retry-After": header}, json={"error": {"code": 4}})
        ).retry_after
        is None
    )


def test_transport_errors_are_retryable():
    assert from_transport(httpx.ReadTimeout("slow")).retryable
    assert from_transport(httpx.ConnectError("refused")).title.startswith("connection error")
