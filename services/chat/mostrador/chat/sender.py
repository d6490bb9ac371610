"""Sends recorded outbound messages through WhatsApp, durably and at most once per attempt.

A request is only *recorded* (pending) by the handlers; the relay publishes it and chat hears its
own event here. Before the HTTP call we record ``SendAttempted``; after it, ``Sent`` or ``SendFailed``.
So a redelivered event finds the message sent/failed and does nothing, and a crash between the two
leaves an attempt without a result: then we first give WhatsApp's status webhook (it carries our
message id as ``biz_opaque_callback_data``) a grace period to tell us it went out, and only then
send again with the same key. A send whose answer was lost (read timeout, connection dropped after
the request went out) takes the same path instead of being retried at once: it may have landed.

What chat records pending itself (a bot reply, an operator's message) it also starts sending at once
(``send_soon``), without waiting for that event to come round through the relay and the broker;
the event still comes and finds the message sent. Sends of one customer run one at a time, in the
order they were asked for, whichever way they came.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from mostrador.chat.application import ChatApp
from mostrador.chat.domainmodel import Conversation
from mostrador.events.bus import OrderedLanes
from mostrador.events.schemas.common import Customer, OutboundContent
from mostrador.whatsapp.errors import ContentError, WhatsAppError

log = structlog.get_logger("chat.sender")

NO_ANSWER = -1  # ApiError.code when WhatsApp never answered (timeout, connection refused)
INVALID_CONTENT = 100  # Meta's "invalid parameter": we refused the content before calling
UNCERTAIN_ATTEMPTS = 3  # sends whose answer was lost before one counts as failed


class SendOutcomeUnknown(ConnectionError):
    """The request may have reached WhatsApp but its answer was lost. Transient for the bus, which runs
    the handler again: it then finds the attempt without a result and takes the crash path below —
    the grace period for the status webhook, and only then a new attempt with the same key."""


def api_error(exc: Exception) -> tuple[dict[str, Any], bool]:
    """The error as stored on the message, and whether it is permanent (never worth retrying as is)."""
    if isinstance(exc, WhatsAppError):
        code = exc.code if exc.code is not None else NO_ANSWER
        return {"code": code, "title": exc.title, "details": exc.details}, not exc.retryable
    return {"code": INVALID_CONTENT, "title": "content refused before sending", "details": str(exc)}, True


def _pending(msg: dict[str, Any] | None) -> bool:
    return msg is not None and msg["direction"] == "out" and msg["status"] == "pending"


class Sender:
    def __init__(self, app: ChatApp, client: Any, clock: Any, *, grace_seconds: float = 10.0,
                 poll_seconds: float = 0.25) -> None:
        self.app, self.client, self.clock = app, client, clock
        self.grace, self.poll = grace_seconds, poll_seconds
        self._resolved: dict[str, asyncio.Event] = {}
        self._tasks: set[asyncio.Task] = set()  # read receipts
        self._early: set[asyncio.Task] = set()  # send_soon's
        self._order = OrderedLanes()  # per customer

    async def _load(self, customer_key: str, message_id: str,
                    latest: bool = False) -> tuple[Conversation | None, dict[str, Any] | None]:
        conv = await asyncio.to_thread(self.app.conversation, customer_key, latest=latest)
        msg = conv.messages.get(message_id) if conv else None
        return conv, msg

    def send_soon(self, conv: Conversation, message_id: str) -> None:
        """Start sending a message this process has just recorded pending (bench B3: its own
        ``SendRequested`` took ~20 ms to come back through the broker). If this attempt fails, or the
        process dies, the event's delivery does what it always did: retry, or the crash path."""
        msg = conv.messages.get(message_id)
        if not _pending(msg) or msg["attempted_round"] == msg["round"]:
            return
        _in_background(self._send_early(conv.key, message_id), self._early)

    async def _send_early(self, customer_key: str, message_id: str) -> None:
        try:
            await self.send(customer_key, message_id)
        except Exception as exc:  # the SendRequested delivery retries it (it is on its way)
            log.info("chat.early_send_left_to_event", message_id=message_id, error=repr(exc))

    async def send(self, customer_key: str, message_id: str) -> None:
        await self._order.run(customer_key, lambda: self._send(customer_key, message_id))

    async def _send(self, customer_key: str, message_id: str) -> None:
        conv, msg = await self._load(customer_key, message_id)
        if not _pending(msg):  # the cached copy may be behind (another replica's write): ask the store
            conv, msg = await self._load(customer_key, message_id, latest=True)
        if conv is None or not _pending(msg):
            return  # a redelivery of something already sent or failed
        if msg["attempted_round"] == msg["round"]:
            log.warning("chat.send_unresolved", message_id=message_id, attempt=msg["attempts"])
            if await self._resolved_within_grace(customer_key, message_id):
                return
            conv, msg = await self._load(customer_key, message_id, latest=True)
            assert conv is not None and msg is not None
        attempt = msg["attempts"] + 1
        if not await asyncio.to_thread(self.app.start_attempt, customer_key, message_id, attempt, self.clock.now()):
            return  # another consumer recorded this attempt first: it sends
        try:
            result = await self.client.send(Customer.model_validate(conv.customer),
                                            OutboundContent.model_validate(msg["content"]), key=message_id)
        except (WhatsAppError, ContentError) as exc:
            if isinstance(exc, WhatsAppError) and exc.maybe_sent and attempt < UNCERTAIN_ATTEMPTS:
                log.warning("chat.send_outcome_unknown", message_id=message_id, attempt=attempt,
                            error=str(exc))
                raise SendOutcomeUnknown(str(exc)) from exc
            error, permanent = api_error(exc)
            log.warning("chat.send_failed", message_id=message_id, code=error["code"], permanent=permanent)
            await asyncio.to_thread(self.app.record_result, customer_key, message_id, attempt, lambda c: c.record_failed(
                message_id, error, permanent=permanent, at=self.clock.now()))
            return
        await asyncio.to_thread(self.app.record_result, customer_key, message_id, attempt,
                                lambda c: c.record_sent(message_id, result.wamid, self.clock.now()))
        log.info("chat.sent", message_id=message_id, wamid=result.wamid, attempt=attempt, http_calls=result.attempts)

    async def _resolved_within_grace(self, customer_key: str, message_id: str) -> bool:
        """Wait up to the grace period for a status webhook to resolve a message whose send result we lost."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.grace
        signal = self._resolved.setdefault(message_id, asyncio.Event())
        try:
            while True:
                _, msg = await self._load(customer_key, message_id, latest=True)
                if msg is None or msg["status"] != "pending":
                    return True
                left = deadline - loop.time()
                if left <= 0:
                    return False
                signal.clear()
                try:  # woken early by notify(); polling covers a status handled by another replica
                    await asyncio.wait_for(signal.wait(), min(left, self.poll))
                except TimeoutError:
                    pass
        finally:
            self._resolved.pop(message_id, None)

    def notify(self, message_id: str | None) -> None:
        """A status for this message was just applied."""
        signal = self._resolved.get(message_id or "")
        if signal is not None:
            signal.set()

    def mark_read_later(self, wamid: str) -> None:
        """Blue ticks for the customer, best effort and off the command's path."""
        _in_background(self._mark_read(wamid), self._tasks)

    async def _mark_read(self, wamid: str) -> None:
        try:
            await self.client.mark_read(wamid)
        except Exception as exc:  # the panel's unread mark is already zero; only the ticks are missing
            log.warning("chat.mark_read_failed", wamid=wamid, error=str(exc))

    async def close(self, timeout: float = 10.0) -> None:
        if self._early:  # let sends in flight finish: cut off, they would wait out the crash path
            await asyncio.wait(set(self._early), timeout=timeout)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _in_background(coroutine: Any, tasks: set[asyncio.Task]) -> None:
    """Run ``coroutine`` as a task held in ``tasks`` until it ends (the loop keeps only weak references)."""
    task = asyncio.get_running_loop().create_task(coroutine)
    tasks.add(task)
    task.add_done_callback(tasks.discard)
