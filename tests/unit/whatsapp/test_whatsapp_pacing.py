"""Token buckets with an injected clock and sleep: exact waits, no real time."""

import asyncio

import pytest

from mostrador.whatsapp.pacing import PairLimiter, TokenBucket

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
