"""The timer: finds due deadlines, publishes them (confirmed), then marks them fired.

A crash between the publish and the mark publishes the same deadline again with the same event id
(derived from the deadline and its version), which consumers recognise — so none fires twice, and
none is lost across restarts because the deadlines live in the database, not in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

import structlog

from mostrador.events.bus import Bus
from mostrador.events.envelope import new_envelope, stable_id
from mostrador.events.schemas.scheduler import ExpiryDue, WindowClosed
from mostrador.platform.clock import Clock
from mostrador.scheduler.deadlines import Deadlines, from_ms

log = structlog.get_logger("scheduler")


class Timer:
    def __init__(self, deadlines: Deadlines, bus: Bus, clock: Clock, *, poll_seconds: float) -> None:
        self.deadlines, self.bus, self.clock, self.poll_seconds = deadlines, bus, clock, poll_seconds
        self._task: asyncio.Task | None = None
        self._ticking = asyncio.Lock()  # the loop and a direct tick() must not fire the same row twice

    def envelope_for(self, row: dict):
        payload, due = row["payload"], from_ms(row["due_ms"])
        event_id = stable_id("scheduler", row["kind"], row["key"], row["version"])
        if row["kind"] == "expiry":
            body = ExpiryDue(ticket_id=payload["ticket_id"], number=payload["number"],
                             opened_at=datetime.fromisoformat(payload["opened_at"]), due_at=due)
        else:
            body = WindowClosed(customer_key=payload["customer_key"], ticket_id=payload.get("ticket_id"),
                                number=payload.get("number"),
                                last_inbound_at=datetime.fromisoformat(payload["last_inbound_at"]), closed_at=due)
        return new_envelope(body, producer="scheduler", aggregate_id=row["key"], aggregate_version=1,
                            event_id=event_id, occurred_at=self.clock.now())

    async def tick(self) -> int:
        """Fire everything due now. Returns how many fired."""
        async with self._ticking:
            rows = await asyncio.to_thread(self.deadlines.due, self.clock.now())
            for row in rows:
                await self.bus.publish(self.envelope_for(row))
                await asyncio.to_thread(self.deadlines.mark_fired, row["kind"], row["key"], row["version"])
                log.info("scheduler.fired", kind=row["kind"], key=row["key"])
            return len(rows)

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database down: the rows are still pending, try again
                log.warning("scheduler.tick_failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.poll_seconds)

    async def start(self) -> None:
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self.run(), name="scheduler-timer")

    async def stop(self, timeout: float = 10.0) -> None:
        """Let a tick in progress finish (its queries run in threads; the store closes right after)."""
        if self._task:
            self._stop.set()
            done, _ = await asyncio.wait({self._task}, timeout=timeout)
            if not done:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)

    async def alive(self) -> bool:
        return self._task is not None and not self._task.done()
