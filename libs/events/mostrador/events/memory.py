"""The in-memory bus: RabbitMQ's semantics in one process (topics, confirms, ack/redelivery,
delivery limit -> dead letters, request/reply), for the embedded mode and fast tests.

``InMemoryBroker`` is the shared server (like one RabbitMQ); each ``InMemoryBus`` is a client
connection to it, so several services — or a consumer that is killed and a new one — share queues.
With a ``journal`` path the broker keeps unacked messages in SQLite, so the embedded mode loses
nothing when the process dies: a "confirm" means the message is on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sqlite3
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import structlog

from mostrador.events.bus import Bus, OrderedLanes, PublishError, RequestTimeout, Subscription
from mostrador.events.envelope import Envelope
from mostrador.events.topology import topic_matches
from mostrador.platform import metrics

log = structlog.get_logger("bus.memory")


@dataclass
class Message:
    seq: int
    body: bytes
    routing_key: str
    message_id: str
    delivery_count: int = 0  # deliveries so far

    @property
    def redelivered(self) -> bool:
        return self.delivery_count > 1


@dataclass
class Queue:
    name: str
    bindings: set[str] = field(default_factory=set)
    ready: deque[Message] = field(default_factory=deque)
    dead: list[Message] = field(default_factory=list)
    waiters: set[asyncio.Event] = field(default_factory=set)

    def put(self, message: Message, *, front: bool = False) -> None:
        (self.ready.appendleft if front else self.ready.append)(message)
        for waiter in self.waiters:
            waiter.set()


class Journal:
    """Unacked messages on disk (SQLite, WAL): insert on publish, delete on ack."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS messages (seq INTEGER, queue TEXT, body BLOB, routing_key TEXT,"
                        " message_id TEXT, delivery_count INTEGER, dead INTEGER DEFAULT 0, PRIMARY KEY (queue, seq))")

    def load(self) -> list[tuple]:
        return self.db.execute("SELECT queue, seq, body, routing_key, message_id, delivery_count, dead"
                               " FROM messages ORDER BY seq").fetchall()

    def add(self, rows: list[tuple[str, Message]]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?, 0, 0)",
                                [(m.seq, q, m.body, m.routing_key, m.message_id) for q, m in rows])

    def remove(self, queue: str, seq: int) -> None:
        self.db.execute("DELETE FROM messages WHERE queue = ? AND seq = ?", (queue, seq))

    def update(self, queue: str, message: Message, *, dead: bool = False) -> None:
        self.db.execute("UPDATE messages SET delivery_count = ?, dead = ? WHERE queue = ? AND seq = ?",
                        (message.delivery_count, int(dead), queue, message.seq))

    def close(self) -> None:
        self.db.close()


class InMemoryBroker:
    def __init__(self, journal: str | None = None) -> None:
        self.queues: dict[str, Queue] = {}
        self.replies: dict[str, asyncio.Future] = {}
        self._seq = itertools.count(1)
        self.journal = Journal(journal) if journal else None
        self.available = True  # tests flip it to simulate a broker outage
        if self.journal:
            self._recover()

    def _recover(self) -> None:
        rows = self.journal.load()
        for queue, seq, body, key, message_id, count, dead in rows:
            message = Message(seq, body, key, message_id, count)
            target = self.declare(queue)
            (target.dead.append if dead else target.put)(message)
        if rows:
            self._seq = itertools.count(max(r[1] for r in rows) + 1)
            log.info("bus.journal_recovered", messages=len(rows))

    def declare(self, name: str, bindings: tuple[str, ...] = ()) -> Queue:
        queue = self.queues.setdefault(name, Queue(name))
        queue.bindings.update(bindings)
        return queue

    def route(self, body: bytes, routing_key: str, message_id: str) -> int:
        if not self.available:
            raise PublishError("broker unavailable")
        targets = [q for q in self.queues.values() if any(topic_matches(b, routing_key) for b in q.bindings)]
        seq = next(self._seq)
        rows = [(q.name, Message(seq, body, routing_key, message_id)) for q in targets]
        if self.journal and rows:
            self.journal.add(rows)  # the "confirm": on disk before publish() returns
        for (_, message), queue in zip(rows, targets, strict=True):
            queue.put(message)
        return len(rows)

    def ack(self, queue: Queue, message: Message) -> None:
        if self.journal:
            self.journal.remove(queue.name, message.seq)

    def requeue(self, queue: Queue, message: Message) -> None:
        if self.journal:
            self.journal.update(queue.name, message)
        queue.put(message, front=True)

    def dead_letter(self, queue: Queue, message: Message) -> None:
        if self.journal:
            self.journal.update(queue.name, message, dead=True)
        queue.dead.append(message)
        metrics.DLQ_DEPTH.labels(queue.name).set(len(queue.dead))

    def redrive(self, queue_name: str) -> int:
        """Move every dead letter of a queue back to it, with a fresh delivery count."""
        queue = self.queues[queue_name]
        moved = 0
        while queue.dead:
            message = queue.dead.pop(0)
            message.delivery_count = 0
            if self.journal:
                self.journal.update(queue.name, message, dead=False)
            queue.put(message)
            moved += 1
        metrics.DLQ_DEPTH.labels(queue.name).set(0)
        return moved

    def close(self) -> None:
        if self.journal:
            self.journal.close()


class InMemoryBus(Bus):
    def __init__(self, broker: InMemoryBroker | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.broker = broker or InMemoryBroker()
        self._consumers: list[asyncio.Task] = []
        self._inflight: set[asyncio.Task] = set()

    async def start(self) -> None:
        from mostrador.events.topology import INBOXES
        for inbox in INBOXES.values():  # like RabbitBus: the whole topology exists before any publish
            self.broker.declare(inbox.service, inbox.bindings)
        for sub in self.subscriptions:
            self.broker.declare(sub.service, sub.bindings)
        for service in self.command_handlers:
            self.broker.declare(f"{service}.commands")
        self._running = True
        for sub in self.subscriptions:
            self._consumers.append(asyncio.create_task(self._consume(sub), name=f"consume-{sub.service}"))
        for service in self.command_handlers:
            self._consumers.append(asyncio.create_task(self._serve(service), name=f"serve-{service}"))

    async def _next(self, queue: Queue) -> Message:
        while not queue.ready:
            waiter = asyncio.Event()
            queue.waiters.add(waiter)
            try:
                await waiter.wait()
            finally:
                queue.waiters.discard(waiter)
        return queue.ready.popleft()

    async def _consume(self, sub: Subscription) -> None:
        queue = self.broker.queues[sub.service]
        lanes = OrderedLanes()
        slots = asyncio.Semaphore(sub.prefetch)
        while True:
            await slots.acquire()
            message = await self._next(queue)
            message.delivery_count += 1
            task = asyncio.create_task(self._deliver(sub, queue, message, lanes, slots))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _deliver(self, sub: Subscription, queue: Queue, message: Message, lanes: OrderedLanes,
                       slots: asyncio.Semaphore) -> None:
        settled = False
        try:
            outcome = await self._process(sub, message.body, message.delivery_count, lanes)
            settled = True
            if outcome == "ack":
                self.broker.ack(queue, message)
            elif outcome == "dead-letter":
                self.broker.dead_letter(queue, message)
            else:
                await asyncio.sleep(min(self.retry_backoff * message.delivery_count, self.max_backoff))
                self.broker.requeue(queue, message)
        finally:
            if not settled:  # the consumer died mid-message: the broker gets it back, like RabbitMQ
                self.broker.requeue(queue, message)
            slots.release()

    async def _serve(self, service: str) -> None:
        queue = self.broker.queues[f"{service}.commands"]
        while True:
            message = await self._next(queue)
            asyncio.create_task(self._answer_message(service, queue, message))

    async def _answer_message(self, service: str, queue: Queue, message: Message) -> None:
        import json
        request = json.loads(message.body)
        reply = await self._answer(service, request["command"], request["body"])
        future = self.broker.replies.pop(request["reply_to"], None)
        if future is not None and not future.done():
            future.set_result(reply)
        self.broker.ack(queue, message)

    async def publish(self, envelope: Envelope, *, timeout: float = 10.0) -> None:
        self.broker.route(envelope.to_bytes(), envelope.routing_key, str(envelope.event_id))
        metrics.BUS_PUBLISHED.labels(envelope.producer).inc()

    async def publish_many(self, envelopes: list[Envelope], *, timeout: float = 10.0) -> None:
        for envelope in envelopes:
            await self.publish(envelope, timeout=timeout)

    async def request(self, service: str, command: str, body: dict[str, Any], *, timeout: float = 5.0) -> dict:
        import json
        if not self.broker.available:
            raise PublishError("broker unavailable")
        reply_to = str(uuid.uuid4())
        future = asyncio.get_running_loop().create_future()
        self.broker.replies[reply_to] = future
        queue = self.broker.declare(f"{service}.commands")
        queue.put(Message(0, json.dumps({"command": command, "body": body, "reply_to": reply_to}).encode(),
                          command, reply_to))
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise RequestTimeout(f"{service} did not answer {command} within {timeout}s") from None
        finally:
            self.broker.replies.pop(reply_to, None)

    async def is_healthy(self) -> bool:
        return self._running and self.broker.available

    async def dead_letters(self, service: str, *, limit: int = 100) -> list[dict[str, Any]]:
        queue = self.broker.queues.get(service)
        return [{"message_id": m.message_id, "routing_key": m.routing_key,
                 "headers": {"x-delivery-count": str(m.delivery_count)}, "body": m.body.decode(errors="replace")}
                for m in (queue.dead[:limit] if queue else [])]

    async def redrive(self, service: str) -> int:
        return self.broker.redrive(service) if service in self.broker.queues else 0

    async def drain(self, timeout: float = 10.0) -> None:
        """Stop taking messages and let in-flight ones finish (their stores are still open)."""
        for task in self._consumers:
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*self._consumers, return_exceptions=True)
        self._consumers.clear()
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=timeout)

    async def kill(self) -> None:
        """Abrupt: what a SIGKILL does to a consumer — in-flight messages go back to the queue."""
        self._running = False
        for task in [*self._consumers, *self._inflight]:
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*self._consumers, *self._inflight, return_exceptions=True)
        self._consumers.clear()
        self._inflight.clear()

