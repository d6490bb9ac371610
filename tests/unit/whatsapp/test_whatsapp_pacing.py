"""The pacers with an injected clock and sleep: exact waits, no real time."""

import asyncio
import bisect

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mostrador.whatsapp.pacing import PairLimiter, SlidingWindow, TokenBucket

pytestmark = pytest.mark.unit


class FakeTime:
    """A clock that only moves when a test moves it; sleep records how long it was asked to wait."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(round(seconds, 6))
        await asyncio.sleep(0)


async def test_burst_then_steady_rate_first_come_first_served():
    t = FakeTime()
    bucket = TokenBucket(rate=10, burst=3, clock=t.clock, sleep=t.sleep)
    await asyncio.gather(*(bucket.acquire() for _ in range(7)))
    # 3 go at once, then one every 0.1 s, each caller waiting for its own slot.
    assert t.waits == [0.1, 0.2, 0.3, 0.4]


async def test_tokens_refill_with_time():
    t = FakeTime()
    bucket = TokenBucket(rate=2, burst=2, clock=t.clock, sleep=t.sleep)
    for _ in range(2):
        await bucket.acquire()
    t.now += 1.0  # two tokens back
    for _ in range(2):
        await bucket.acquire()
    assert t.waits == []
    await bucket.acquire()
    assert t.waits == [0.5]


async def test_refill_never_exceeds_burst():
    t = FakeTime()
    bucket = TokenBucket(rate=1, burst=2, clock=t.clock, sleep=t.sleep)
    t.now += 3600
    for _ in range(3):
        await bucket.acquire()
    assert t.waits == [1.0]


async def test_hold_delays_the_next_slot():
    t = FakeTime()
    bucket = TokenBucket(rate=80, burst=80, clock=t.clock, sleep=t.sleep)
    bucket.hold(7)
    await bucket.acquire()
    assert t.waits == [7.0]


def test_invalid_configuration():
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=1)
    with pytest.raises(ValueError):
        TokenBucket(rate=1, burst=0)


async def test_pair_limit_is_per_recipient():
    t = FakeTime()
    pair = PairLimiter(burst=2, interval=6.0, clock=t.clock, sleep=t.sleep)
    for _ in range(4):
        await pair.acquire("lucia")
    await pair.acquire("martin")
    await pair.acquire("martin")
    assert t.waits == [6.0, 12.0]  # only Lucía's third and fourth waited


async def test_pair_hold_only_affects_that_recipient():
    t = FakeTime()
    pair = PairLimiter(clock=t.clock, sleep=t.sleep)
    pair.hold("lucia", 4.0)
    await pair.acquire("martin")
    await pair.acquire("lucia")
    assert t.waits == [4.0]


async def test_pair_limiter_forgets_idle_recipients():
    t = FakeTime()
    pair = PairLimiter(burst=45, interval=6.0, clock=t.clock, sleep=t.sleep, max_idle_sweep=3)
    for who in ("a", "b", "c"):
        await pair.acquire(who)
    t.now += 60
    await pair.acquire("d")
    assert len(pair) == 1


async def test_throughput_window_lets_a_second_s_worth_through_then_waits_for_the_window():
    t = FakeTime()
    window = SlidingWindow.per_second(3, clock=t.clock, sleep=t.sleep)
    await asyncio.gather(*(window.acquire() for _ in range(7)))
    assert t.waits == [1.0, 1.0, 1.0, 2.0]  # never a 4th send inside any one second


def test_throughput_below_one_a_second_spaces_single_sends():
    t = FakeTime()
    window = SlidingWindow.per_second(0.5, clock=t.clock, sleep=t.sleep)
    assert [window.reserve() for _ in range(3)] == [0.0, 2.0, 4.0]
    with pytest.raises(ValueError):
        SlidingWindow.per_second(0)


async def test_throughput_hold_delays_the_next_slot():
    t = FakeTime()
    window = SlidingWindow.per_second(80, clock=t.clock, sleep=t.sleep)
    window.hold(7)
    await window.acquire()
    assert t.waits == [7.0]


# -- properties over random arrival patterns -----------------------------------------------------
# Times are multiples of 1/64 s, so every sum the pacers make is exact and a window's edge is sharp.

TICK = 1 / 64
gap = st.integers(0, 96).map(lambda n: n * TICK) | st.just(0.0)
hold = st.sampled_from([None, None, None, None, 0.5, 2.0, 7.0])
arrivals = st.lists(st.tuples(gap, hold), min_size=1, max_size=160)  # (time since the last, back-off)


def most_in_any_window(slots: list[float], width: float) -> int:
    """The largest number of (sorted) slots in one window [t, t + width); it is enough to start at a slot."""
    return max(bisect.bisect_left(slots, start + width) - i for i, start in enumerate(slots))


@settings(max_examples=200, deadline=None)
@given(rate=st.sampled_from([1, 2.5, 5, 80]), arrivals=arrivals)
def test_no_one_second_window_ever_holds_more_than_the_rate(rate, arrivals):
    t = FakeTime()
    window = SlidingWindow.per_second(rate, clock=t.clock, sleep=t.sleep)
    slots: list[float] = []
    held_until = 0.0
    for gap, hold in arrivals:
        t.now += gap
        if hold is not None:
            window.hold(hold)
            held_until = max(held_until, t.now + hold)
        busy = len(slots) - bisect.bisect_right(slots, t.now - 1.0)  # sends in the last second, or booked
        wait = window.reserve()
        if t.now >= held_until and busy < int(rate):
            assert wait == 0, "waited although the last second had room"
        slots.append(t.now + wait)
    assert slots == sorted(slots)  # first come, first served
    assert most_in_any_window(slots, 1.0) <= int(rate)


@settings(max_examples=150, deadline=None)
@given(arrivals=st.lists(st.tuples(gap, hold, st.sampled_from("abc")), min_size=1, max_size=160))
def test_pair_limit_no_window_holds_more_than_the_burst_plus_its_rate(arrivals):
    t = FakeTime()
    burst, interval = 3, 2.0
    pair = PairLimiter(burst=burst, interval=interval, clock=t.clock, sleep=t.sleep)
    slots: dict[str, list[float]] = {}
    for gap, hold, recipient in arrivals:
        t.now += gap
        if hold is not None:
            pair.hold(recipient, hold)
        slots.setdefault(recipient, []).append(t.now + pair.reserve(recipient))
    for mine in slots.values():
        assert mine == sorted(mine)
        assert most_in_any_window(mine, interval) <= burst  # "up to 45 in 6 s"
        for k in (2, 5):  # then one per interval: the burst borrows, it does not add up
            assert most_in_any_window(mine, k * interval) <= burst + k - 1
