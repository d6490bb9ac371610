"""present.iso formats epoch milliseconds from a cache of minutes; it must say exactly what
datetime.isoformat() says, which the panel's clients parse (fractions omitted when zero)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from mostrador.panel_api.present import iso

MS = st.integers(min_value=-62_135_596_800_000 + 86_400_000, max_value=253_402_300_799_999)  # years 1..9999
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@given(MS)
def test_iso_is_datetime_isoformat_in_utc(ms):
    # Exact, unlike fromtimestamp(ms / 1000), whose float loses the millisecond centuries from now.
    assert iso(ms) == (EPOCH + timedelta(milliseconds=ms)).isoformat()


@given(st.integers(min_value=1_500_000_000_000, max_value=2_500_000_000_000))
def test_iso_agrees_with_fromtimestamp_for_this_era(ms):
    assert iso(ms) == datetime.fromtimestamp(ms / 1000, UTC).isoformat()


@given(st.integers(min_value=0, max_value=4_102_444_800))
def test_whole_seconds_have_no_fraction(seconds):
    assert iso(seconds * 1000) == datetime.fromtimestamp(seconds, UTC).isoformat()


def test_known_instants():
    assert iso(None) is None
    assert iso(0) == "1970-01-01T00:00:00+00:00"
    assert iso(1_789_460_000_250) == "2026-09-15T08:13:20.250000+00:00"
    assert iso(-1) == "1969-12-31T23:59:59.999000+00:00"
