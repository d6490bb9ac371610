"""The outbox relay: a service's event store *is* its outbox.

It reads the application's notification log in order, turns each stored domain event into an
integration event (or skips it), publishes the batch with confirms, and only then records how far
it got. Killed between publish and record, it publishes the same events again with the same
``event_id`` (derived from the notification id) — consumers are idempotent, so nothing is lost
and nothing is applied twice.

That is also why the position is not recorded after every batch: under load, at most once a second
(``record_every``), and when the relay falls quiet or stops. A position row per batch was a
transaction per save or two (bench B2); a crash now republishes up to a second of events, which
their consumers recognise and skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import structlog
from eventsourcing.persistence import Notification, Tracking

from mostrador.events.bus import Bus
from mostrador.events.envelope import Envelope, EventPayload, new_envelope, stable_id
from mostrador.platform import metrics

log = structlog.get_logger("relay")

# translate(domain_event, aggregate_after_the_event_or_None) -> payload(s) to publish, or None to skip
Translate = Callable[[Any, Any], EventPayload | list[EventPayload] | None]


class AggregateStates:
    """The state of each aggregate right after the event being relayed. The relay reads the log in
    order, so it mostly just applies the next event to the copy it holds; otherwise it loads."""

    def __init__(self, repository: Any, size: int = 5000) -> None:
        self.repository, self.size = repository, size
        self._states: OrderedDict[Any, Any] = OrderedDict()

    def after(self, event: Any) -> Any:
        key, version = event.originator_id, event.originator_version
        current = self._states.pop(key, None)
        if version == 1:
            current = event.mutate(None)
        elif current is not None and current.version == version - 1:
            current = event.mutate(current)
        else:
            current = self.repository.get(key, version=version)
        self._states[key] = current
        if len(self._states) > self.size:
            self._states.popitem(last=False)
        return current


class OutboxRelay:
    def __init__(self, app: Any, translate: Translate, bus: Bus, *, producer: str, batch_size: int = 200,
                 poll_interval: float = 1.0, with_state: bool = False, states: int = 5000,
                 record_every: float = 1.0) -> None:
        self.app, self.translate, self.bus, self.producer = app, translate, bus, producer
        self.states = AggregateStates(app.repository, size=states) if with_state else None
        self.batch_size, self.poll_interval, self.record_every = batch_size, poll_interval, record_every
        self.tracking_name = f"relay:{producer}"
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._stopping = False
        self.position = 0
        self.recorded, self._recorded_at = 0, 0.0  # the position as stored, and when it was stored

    def wake(self) -> None:
        """Thread-safe nudge after a commit, so publishing does not wait for the next poll."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wakeup.set)

    async def start(self) -> None:
        self._stopping = False
        self._loop = asyncio.get_running_loop()
        self.app.on_save(self.wake)
        self.position = self.recorded = await asyncio.to_thread(self._load_position)
        self._recorded_at = time.monotonic()
        self._task = asyncio.create_task(self.run(), name=f"relay-{self.producer}")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self, timeout: float = 10.0) -> None:
        """Let the current batch finish (its database read runs in a thread that cannot be interrupted,
        and the store is closed right after us), then end the loop."""
        if self._task:
            self._stopping = True
            self._wakeup.set()
            done, _ = await asyncio.wait({self._task}, timeout=timeout)
            if not done:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
            try:
                await self.record_position()
            except Exception as exc:  # the database is away: the next start republishes, consumers skip
                log.warning("relay.position_not_recorded", producer=self.producer, error=repr(exc))

    def _load_position(self) -> int:
        return self.app.recorder.max_tracking_id(self.tracking_name) or 0

    def envelopes_for(self, notification: Notification) -> list[Envelope]:
        """The integration events of one stored event. The first one's id is derived from the
        notification id alone; any further one's also from its type (they must differ)."""
        domain_event = self.app.mapper.to_domain_event(notification)
        state = self.states.after(domain_event) if self.states is not None else None
        translated = self.translate(domain_event, state)
        payloads = [] if translated is None else translated if isinstance(translated, list) else [translated]
        cause = vars(domain_event)  # what esapp.stamp_cause stored with it, if a message caused it
        correlation, causation = cause.get("_correlation_id"), cause.get("_causation_id")
        return [new_envelope(
            payload, producer=self.producer, aggregate_id=notification.originator_id,
            aggregate_version=notification.originator_version,
            event_id=stable_id(self.producer, notification.id, *([payload.TYPE] if i else [])),
            occurred_at=domain_event.timestamp, correlation_id=correlation and uuid.UUID(correlation),
            causation_id=causation and uuid.UUID(causation)) for i, payload in enumerate(payloads)]

    def read_batch(self, after: int) -> tuple[list[Envelope], int]:
        """The next envelopes after position ``after``, and the position they bring us to."""
        notifications = self.app.recorder.select_notifications(after, self.batch_size, inclusive_of_start=False)
        if not notifications:
            return [], after
        envelopes = [e for n in notifications for e in self.envelopes_for(n)]
        return envelopes, notifications[-1].id

    async def run(self) -> None:
        backoff = 0.2
        while not self._stopping:
            try:
                moved = await self.run_once()
                backoff = 0.2
                if moved:
                    continue
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), self.poll_interval)
                except TimeoutError:
                    await self.record_position()  # quiet for a while: store where we are
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database down: keep the position, try again
                log.warning("relay.retry", producer=self.producer, error=repr(exc), retry_in=backoff)
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), backoff)
                backoff = min(backoff * 2, 5.0)

    async def run_once(self) -> int:
        """Publish one batch. Returns how many notifications it moved past (0 when caught up)."""
        envelopes, position = await asyncio.to_thread(self.read_batch, self.position)
        if position == self.position:
            return 0
        if envelopes:
            await self.bus.publish_many(envelopes)
        moved, self.position = position - self.position, position
        metrics.RELAY_POSITION.labels(self.producer).set(position)
        if time.monotonic() - self._recorded_at >= self.record_every:
            await self.record_position()
        return moved

    async def record_position(self) -> None:
        """Store how far we have published (if further than stored): where a restart begins."""
        position = self.position
        if position > self.recorded:
            await asyncio.to_thread(self.app.recorder.insert_tracking, Tracking(self.tracking_name, position))
            self.recorded = position
        self._recorded_at = time.monotonic()
