"""Outbound pacing: the number's throughput (80 msg/s by default) and WhatsApp's per-recipient pair limit.

Throughput is a count per second, so it is a sliding window: at most ``limit`` sends in any window
``[t, t + window)``. (A token bucket with burst = rate lets a full burst through and then keeps
refilling, so one second could hold ~2 x rate sends.) The pair limit is a rate with a burst that
borrows future quota — one message per 6 s, up to 45 at once — which is exactly a token bucket.

Both hand out slots first come, first served: each caller reserves the next free slot and sleeps
exactly until it. Nothing busy-waits, and the waits depend only on the clock, so tests inject
clock and sleep.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class _Slots:
    """What both limiters share: reserve() gives the wait for the next slot; hold() pushes slots back."""

    _clock: Clock
    _sleep: Sleep
    _hold_until: float

    def reserve(self) -> float:
        raise NotImplementedError

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await self._sleep(wait)

    def hold(self, seconds: float) -> None:
        """No slot before ``seconds`` from now (the server told us to back off)."""
        self._hold_until = max(self._hold_until, self._clock() + seconds)


class SlidingWindow(_Slots):
    """At most ``limit`` slots in any ``window`` seconds."""

    def __init__(self, limit: int, window: float = 1.0, *, clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit, self.window = limit, window
        self._clock, self._sleep = clock, sleep
        self._slots: deque[float] = deque(maxlen=limit)  # the last `limit` slots handed out, oldest first
        self._hold_until = 0.0

    @classmethod
    def per_second(cls, rate: float, **kwargs) -> SlidingWindow:
        """``rate`` sends a second: floor(rate) per 1 s window, or one per 1/rate s below one a second."""
        if rate <= 0:
            raise ValueError("rate must be > 0")
        if rate < 1:
            return cls(1, 1.0 / rate, **kwargs)
        return cls(math.floor(rate), 1.0, **kwargs)

    def reserve(self) -> float:
        """Claim the next slot; returns how long the caller must wait for it (0 = go now)."""
        now = self._clock()
        slot = max(now, self._hold_until)
        if len(self._slots) == self.limit:  # the window's oldest slot must have left it
            slot = max(slot, self._slots[0] + self.window)
        self._slots.append(slot)
        return slot - now


class TokenBucket(_Slots):
    """``rate`` tokens per second, at most ``burst`` at once (GCRA: "theoretical arrival time")."""

    def __init__(
        self, rate: float, burst: float, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.interval = 1.0 / rate
        self.tolerance = (burst - 1) * self.interval  # how far ahead of the steady pace a burst may run
        self._clock = clock
        self._sleep = sleep
        self._arrival = clock()  # the theoretical time the next token is due
        self._hold_until = 0.0

    def reserve(self) -> float:
        """Claim the next slot; returns how long the caller must wait for it (0 = go now)."""
        now = self._clock()
        start = max(now, self._hold_until)
        arrival = max(self._arrival, start)
        slot = max(start, arrival - self.tolerance)
        self._arrival = arrival + self.interval
        return slot - now

    def idle(self) -> bool:
        """True when the bucket is full again and holds nothing: it can be dropped and recreated."""
        now = self._clock()
        return self._arrival <= now and self._hold_until <= now


class PairLimiter:
    """WhatsApp's pair rate limit: per recipient, a burst (45) then one message every 6 s."""

    def __init__(self, burst: int = 45, interval: float = 6.0, *, clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep, max_idle_sweep: int = 10_000):
        self.burst = burst
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[str, TokenBucket] = {}
        self._sweep_at = max_idle_sweep

    def _bucket(self, recipient: str) -> TokenBucket:
        bucket = self._buckets.get(recipient)
        if bucket is None:
            if len(self._buckets) >= self._sweep_at:  # keep memory bounded by active recipients only
                self._buckets = {k: b for k, b in self._buckets.items() if not b.idle()}
            bucket = TokenBucket(1.0 / self.interval, self.burst, clock=self._clock, sleep=self._sleep)
            self._buckets[recipient] = bucket
        return bucket

    def reserve(self, recipient: str) -> float:
        return self._bucket(recipient).reserve()

    async def acquire(self, recipient: str) -> None:
        await self._bucket(recipient).acquire()

    def hold(self, recipient: str, seconds: float) -> None:
        """Back off this recipient only (after a 131056); other customers are unaffected."""
        self._bucket(recipient).hold(seconds)

    def __len__(self) -> int:
        return len(self._buckets)
