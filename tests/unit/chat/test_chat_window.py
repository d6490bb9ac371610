"""Pure rules: the 24 h window and delivery-status precedence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mostrador.chat.window import closes_at, closes_window, fold_reports, free_text_refusal, is_open, next_status

pytestmark = pytest.mark.unit

T0 = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)
H = timedelta(hours=24)


def test_no_customer_message_means_no_window():
    assert not is_open(T0, None, 24)
    assert closes_at(None, 24) is None


@pytest.mark.parametrize("now, expected", [
    (T0, True),
    (T0 + H - timedelta(microseconds=1), True),
    (T0 + H, False),  # the boundary itself is closed: WhatsApp counts 24 h, not 24 h and a bit
    (T0 + H + timedelta(seconds=1), False),
])
def test_open_for_exactly_the_configured_hours(now, expected):
    assert is_open(now, T0, 24) is expected
    assert closes_at(T0, 24) == T0 + H


def test_configurable_length():
    assert is_open(T0 + timedelta(minutes=59), T0, 1)
    assert not is_open(T0 + timedelta(minutes=60), T0, 1)


def test_131047_since_the_last_inbound_closes_it_early():
    closed_at = T0 + timedelta(hours=2)
    assert not is_open(T0 + timedelta(hours=3), T0, 24, closed_for=T0)
    assert closes_at(T0, 24, closed_for=T0, closed_at=closed_at) == closed_at


def test_a_newer_customer_message_reopens_after_131047():
    later = T0 + timedelta(hours=30)
    assert is_open(later + timedelta(minutes=1), later, 24, closed_for=T0)
    assert closes_at(later, 24, closed_for=T0, closed_at=T0 + timedelta(hours=25)) == later + H


def test_free_text_needs_en_proceso_and_an_open_window():
    assert free_text_refusal("COMPLETO", True)[0] == "not_in_process"
    assert "COMPLETO" in free_text_refusal("COMPLETO", True)[1]
    assert free_text_refusal(None, True)[0] == "not_in_process"
    assert free_text_refusal("EN PROCESO", False)[0] == "window_closed"
    assert free_text_refusal("EN PROCESO", True) is None


@pytest.mark.parametrize("current, incoming, expected", [
    ("pending", "sent", "sent"),
    ("pending", "read", "read"),  # 'delivered' may be skipped entirely
    ("sent", "delivered", "delivered"),
    ("delivered", "read", "read"),
    ("read", "delivered", None),  # a late 'delivered' never overwrites 'read'
    ("delivered", "sent", None),
    ("sent", "sent", None),  # duplicates change nothing
    ("read", "read", None),
    ("read", "failed", "failed"),  # failed wins
    ("pending", "failed", "failed"),
    ("failed", "delivered", None),  # and stays until an operator retries
    ("failed", "failed", None),
    ("delivered", "played", "read"),
    ("sent", "deleted", None),
])
def test_status_precedence(current, incoming, expected):
    assert next_status(current, incoming) == expected


def test_any_order_of_the_same_reports_ends_in_the_same_status():
    import itertools
    for order in itertools.permutations(["sent", "delivered", "read"]):
        status = "pending"
        for incoming in [*order, *order]:  # each twice, like Meta's retries
            status = next_status(status, incoming) or status
        assert status == "read"


def test_reports_that_overtook_the_send_result_are_folded_in():
    reports = [{"status": "read", "at": T0.isoformat(), "errors": []},
               {"status": "delivered", "at": T0, "errors": []}]
    assert fold_reports("sent", T0 - H, reports) == ("read", T0, None)
    failed = [{"status": "failed", "at": T0, "errors": []}]
    status, _, error = fold_reports("sent", T0, failed)
    assert status == "failed" and error["code"] == -1  # failed without a reason still says so


def test_only_a_fresh_131047_closes_the_window():
    err = {"code": 131047}
    assert closes_window(err, T0, T0 + timedelta(minutes=1))
    assert closes_window(err, T0, T0)
    assert not closes_window(err, T0 + timedelta(minutes=2), T0 + timedelta(minutes=1))  # the customer wrote since
    assert not closes_window({"code": 131026}, T0, T0)
    assert not closes_window(None, T0, T0)
