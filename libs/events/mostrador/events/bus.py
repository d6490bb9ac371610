"""The bus: one interface, two implementations (InMemoryBus, RabbitBus) with the same semantics.

- publish() returns only once the broker has the message (publisher confirm).
- A handler's success acks the message; an exception redelivers it; after the delivery limit it is
  dead-lettered. ``Reject`` dead-letters at once (poison); an unparseable envelope is poison too.
- Transient infrastructure errors (database or network down) are retried in-process with backoff
  and never count towards the limit, so an outage does not send good messages to the DLQ.
- Messages with the same ordering key are handled one at a time, in arrival order.
- request()/serve() carry commands (panel -> tickets/chat) with a reply and a timeout.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import structlog
from eventsourcing import persistence as es_persistence

from mostrador.events.envelope import HANDLING, Envelope
from mostrador.events.registry import UnknownEventError, parse_envelope
from mostrador.platform import metrics

log = structlog.get_logger("bus")

Handler = Callable[[Envelope], Awaitable[None]]
CommandHandler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
KeyFunction = Callable[[Envelope], str | None]

DEFAULT_DELIVERY_LIMIT = 5


class Reject(Exception):
    """A message that can never succeed: dead-letter it now."""


class PublishError(Exception):
    """The broker did not confirm the message (down, or timed out): the caller must not ack upstream."""


class RequestTimeout(TimeoutError):
    """No reply to a command in time."""


class CommandError(Exception):
    """The serving side answered a command with an error."""

    def __init__(self, code: str, message: str, status: int = 400, details: dict | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.details = code, message, status, details or {}

    def to_reply(self) -> dict[str, Any]:
        return {"ok": False, "error": {"code": self.code, "message": self.message, "status": self.status,
                                       "details": self.details}}


TRANSIENT_ERRORS = (ConnectionError, TimeoutError, PublishError, psycopg.OperationalError, psycopg.InterfaceError,
                    es_persistence.OperationalError, es_persistence.InterfaceError, httpx.TransportError)


def is_transient(exc: BaseException) -> bool:
    """Infrastructure trouble that will pass (retry in place) as opposed to a bad message."""
    if isinstance(exc, TRANSIENT_ERRORS):
        return True
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return True
    cause = exc.__cause__ or exc.__context__
    return cause is not None and cause is not exc and is_transient(cause)


@dataclass
class Subscription:
    service: str
    bindings: tuple[str, ...]
    handler: Handler
    key: KeyFunction | None = None
    prefetch: int = 32


@dataclass
class OrderedLanes:
    """Runs jobs with the same key one after another, in submission order; other keys run in parallel."""

    _tails: dict[str, asyncio.Future] = field(default_factory=dict)

    async def run(self, key: str | None, job: Callable[[], Awaitable[None]]) -> None:
        if key is None:
            await job()
            return
        previous = self._tails.get(key)
        mine: asyncio.Future = asyncio.get_running_loop().create_future()
        self._tails[key] = mine
        try:
            if previous is not None:
                with contextlib.suppress(BaseException):
                    await asyncio.shield(previous)
            await job()
        finally:
            mine.set_result(None)
            if self._tails.get(key) is mine:
                del self._tails[key]


class Bus(abc.ABC):
    """Subscribe and serve before start(); publish and request after."""

    def __init__(self, *, delivery_limit: int = DEFAULT_DELIVERY_LIMIT, retry_backoff: float = 0.2,
                 max_backoff: float = 5.0) -> None:
        self.delivery_limit = delivery_limit
        self.retry_backoff = retry_backoff
        self.max_backoff = max_backoff
        self.subscriptions: list[Subscription] = []
        self.command_handlers: dict[str, CommandHandler] = {}
        self._running = False

    def subscribe(self, service: str, bindings: tuple[str, ...] | list[str], handler: Handler, *,
                  key: KeyFunction | None = None, prefetch: int = 32) -> None:
        self.subscriptions.append(Subscription(service, tuple(bindings), handler, key, prefetch))

    def serve(self, service: str, handler: CommandHandler) -> None:
        self.command_handlers[service] = handler

    @abc.abstractmethod
    async def start(self) -> None: ...

    async def stop(self, drain_timeout: float = 10.0) -> None:
        """Graceful: stop consuming, drain in-flight messages, then close."""
        await self.drain(drain_timeout)
        await self.close()

    @abc.abstractmethod
    async def drain(self, timeout: float = 10.0) -> None:
        """Stop taking messages and wait for in-flight handlers (publishing still works)."""

    async def close(self) -> None:
        """Close the connection; whatever is still unacknowledged goes back to its queue."""
        await self.kill()

    @abc.abstractmethod
    async def kill(self) -> None:
        """Abrupt, like a SIGKILL: in-flight messages are not settled and will be delivered again."""

    @abc.abstractmethod
    async def publish(self, envelope: Envelope, *, timeout: float = 10.0) -> None: ...

    async def publish_many(self, envelopes: list[Envelope], *, timeout: float = 10.0) -> None:
        """Publish in order, confirms pipelined; returns when all are confirmed."""
        if len(envelopes) == 1:  # the webhook's usual case: no gather, no task
            await self.publish(envelopes[0], timeout=timeout)
            return
        await asyncio.gather(*(self.publish(e, timeout=timeout) for e in envelopes))

    @abc.abstractmethod
    async def request(self, service: str, command: str, body: dict[str, Any], *,
                      timeout: float = 5.0) -> dict[str, Any]: ...

    @abc.abstractmethod
    async def is_healthy(self) -> bool: ...

    # -- shared consumer logic ---------------------------------------------------------------

    async def _process(self, sub: Subscription, body: bytes, delivery_count: int, lanes: OrderedLanes) -> str:
        """Run one delivery through the handler (in its key's lane). Returns 'ack', 'requeue' or 'dead-letter'."""
        try:
            envelope = parse_envelope(body)
        except UnknownEventError as exc:
            log.error("bus.poison", service=sub.service, error=str(exc))
            metrics.BUS_CONSUMED.labels(sub.service, "poison").inc()
            metrics.BUS_DEAD_LETTERED.labels(sub.service).inc()  # every way into a DLQ counts
            return "dead-letter"
        key = sub.key(envelope) if sub.key else None
        outcome = "requeue"

        async def job() -> None:
            nonlocal outcome
            structlog.contextvars.bind_contextvars(**envelope.log_context())
            handling = HANDLING.set(envelope)
            try:
                with metrics.HANDLER_SECONDS.labels(sub.service).time():
                    outcome = await self._run_with_transient_retry(sub, envelope, delivery_count)
            finally:
                HANDLING.reset(handling)
                structlog.contextvars.clear_contextvars()

        await lanes.run(key, job)
        return outcome

    async def _run_with_transient_retry(self, sub: Subscription, envelope: Envelope, delivery_count: int) -> str:
        backoff = self.retry_backoff
        while True:
            try:
                await sub.handler(envelope)
                metrics.BUS_CONSUMED.labels(sub.service, "ok").inc()
                return "ack"
            except Reject as exc:
                log.error("bus.rejected", service=sub.service, error=str(exc))
                metrics.BUS_CONSUMED.labels(sub.service, "rejected").inc()
                metrics.BUS_DEAD_LETTERED.labels(sub.service).inc()
                return "dead-letter"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_transient(exc) and self._running:
                    log.warning("bus.transient_error", service=sub.service, error=repr(exc), retry_in=backoff)
                    metrics.BUS_CONSUMED.labels(sub.service, "transient").inc()
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self.max_backoff)
                    continue
                log.exception("bus.handler_failed", service=sub.service, delivery=delivery_count)
                metrics.BUS_CONSUMED.labels(sub.service, "failed").inc()
                if delivery_count >= self.delivery_limit:
                    metrics.BUS_DEAD_LETTERED.labels(sub.service).inc()
                    return "dead-letter"
                return "requeue"

    async def _answer(self, service: str, command: str, body: dict[str, Any]) -> dict[str, Any]:
        handler = self.command_handlers[service]
        try:
            result = await handler(command, body)
            return {"ok": True, "result": result}
        except CommandError as exc:
            return exc.to_reply()
        except Exception as exc:  # a bug must still answer, or the caller waits for its timeout
            log.exception("bus.command_failed", service=service, command=command)
            # the details are in this service's log; the caller (and the panel's user) gets no internals
            return {"ok": False, "error": {"code": "internal_error", "message": f"{service} failed on {command}",
                                           "status": 500}}


def unwrap_reply(reply: dict[str, Any]) -> Any:
    if reply.get("ok"):
        return reply.get("result")
    err = reply.get("error") or {}
    raise CommandError(err.get("code", "error"), err.get("message", ""), err.get("status", 400), err.get("details"))
