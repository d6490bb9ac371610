"""Letting a new topology settle before any traffic uses it (RabbitMQ 3.10 quorum queues).

Measured here on RabbitMQ 3.10.8 (single node, Erlang 25): a quorum queue declared less than about a
second before the node is SIGKILLed comes back without its Raft member. It still exists — declares
succeed — but publishes to it are never confirmed, consumers never attach, and the messages it had
confirmed are gone. Declared 1.3 s or more before the kill, it keeps everything.

So while the topology is unsettled, no process publishes or consumes anything (``start()`` — and so
/readyz — waits). One of them (an exclusive queue is the lock) waits ``settle_seconds`` after the whole
topology is declared, then probes each empty quorum queue; one that does not answer was broken by a
crash inside that window, and since nothing was ever published into an unsettled topology, it is deleted
and declared again (and settles again).
A durable marker exchange named after the topology's exact shape records that it settled, so restarts
and every later process skip all of this; a new queue (or new arguments) is a new shape. It is bound to
the queues and auto-deleted with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aio_pika
import structlog
from aio_pika import ExchangeType
from aio_pika.exceptions import ChannelInvalidStateError
from aiormq.exceptions import ChannelLockedResource, ConnectionInternalError

log = structlog.get_logger("bus.settle")

PROBE_SECONDS = 3.0  # a healthy queue answers basic.get in milliseconds; a broken one never does
DELETE_SECONDS = 30.0  # RabbitMQ force-deletes a queue without a leader after its own ~5 s timeout
GIVE_UP_SECONDS = 180.0


def quorum_queues(bus: Any) -> dict[str, dict[str, Any]]:
    """Our quorum queues (inboxes and their dead-letter queues) and their arguments."""
    queues = {}
    for service in bus.inboxes():
        inbox = bus.qname(f"{service}.inbox")
        for name in (inbox, f"{inbox}.dlq"):
            queues[name] = bus.queue_arguments(name)
    return queues


def marker_name(bus: Any) -> str:
    shape = json.dumps(sorted(quorum_queues(bus).items()), sort_keys=True, default=str)
    return bus.qname(f"topology.settled.{hashlib.sha256(shape.encode()).hexdigest()[:12]}")


async def settle_topology(bus: Any, settle_seconds: float, redeclare: Callable[[], Awaitable[None]]) -> None:
    """Return once the declared topology has settled (repairing queues a crash broke meanwhile);
    ``redeclare`` declares the whole topology again. One process at a time settles it (the others wait
    for the marker): several repairing at once would delete each other's fresh queues."""
    marker = marker_name(bus)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + GIVE_UP_SECONDS
    while True:
        try:
            if await _exchange_exists(bus.url, marker):
                return
            async with _settling_lock(bus.url, bus.qname("topology.settling")) as mine:
                if not mine:  # another process is settling it: wait for its marker
                    if loop.time() > deadline:
                        raise RuntimeError(f"the topology did not settle in {GIVE_UP_SECONDS:g} s")
                    await asyncio.sleep(1.0)
                    continue
                await redeclare()  # every queue exists from here on (idempotent)
                if await _repaired(bus):  # broken by a crash before we got here: recreated, start over
                    continue
                log.info("bus.topology_settling", seconds=settle_seconds, marker=marker)
                await asyncio.sleep(settle_seconds)
                if await _repaired(bus):  # broken by a crash inside the window
                    continue
                await _declare_marker(bus.url, marker, quorum_queues(bus))
                log.info("bus.topology_settled", marker=marker)
                return
        except (aio_pika.exceptions.AMQPError, ChannelInvalidStateError, OSError, TimeoutError) as exc:
            if loop.time() > deadline:
                raise
            log.warning("bus.topology_settle_retry", error=repr(exc))  # the broker is (re)starting
            await asyncio.sleep(1.0)


async def _repaired(bus: Any) -> bool:
    """Delete the queues that do not answer (nothing was ever published into an unsettled topology, so
    nothing is lost); the next round declares them again. True if there were any."""
    broken = await _unanswering(bus.url, quorum_queues(bus))
    if broken:
        log.warning("bus.topology_repair", queues=broken)
        await _delete(bus.url, broken)
    return bool(broken)


@contextlib.asynccontextmanager
async def _settling_lock(url: str, name: str) -> AsyncIterator[bool]:
    """An exclusive queue as a mutex: held while its connection lives (so a crashed holder frees it)."""
    connection = await aio_pika.connect(url, timeout=10)
    try:
        channel = await connection.channel()
        try:
            await channel.declare_queue(name, exclusive=True, auto_delete=True)
            held = True
        except ChannelLockedResource:
            held = False
        yield held
    finally:
        with contextlib.suppress(Exception):
            await connection.close()


async def _declare_marker(url: str, marker: str, queues: dict[str, dict[str, Any]]) -> None:
    """The marker is an auto-delete exchange bound to every queue (nothing is ever published to it): it
    lives exactly as long as the queues, so deleting them (a test's namespace, an operator's reset)
    removes it too, and the next start settles the new queues again."""
    async with await aio_pika.connect(url, timeout=10) as connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(marker, ExchangeType.FANOUT, durable=True, auto_delete=True)
        for name in queues:
            queue = await channel.declare_queue(name, passive=True)
            await queue.bind(exchange)


async def _exchange_exists(url: str, name: str) -> bool:
    async with await aio_pika.connect(url, timeout=10) as connection:
        channel = await connection.channel()
        try:
            await channel.declare_exchange(name, ExchangeType.FANOUT, durable=True, auto_delete=True,
                                           passive=True)
            return True
        except aio_pika.exceptions.ChannelNotFoundEntity:
            return False


async def _unanswering(url: str, queues: dict[str, dict[str, Any]]) -> list[str]:
    """The empty-looking queues that do not answer a basic.get, probed all at once (a queue holding
    messages is alive and is not touched; in an unsettled topology ours are empty anyway)."""
    answers = await asyncio.gather(*(_answers(url, name) for name in queues))
    return [name for name, ok in zip(queues, answers, strict=True) if not ok]


async def _answers(url: str, name: str) -> bool:
    async with await aio_pika.connect(url, timeout=10) as connection:  # its own: a failed get kills it
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        if queue.declaration_result.message_count:
            return True
        try:
            message = await queue.get(no_ack=False, fail=False, timeout=PROBE_SECONDS)
        except (TimeoutError, ConnectionInternalError) as exc:  # no answer, or "…: noproc" (no Raft member)
            if isinstance(exc, ConnectionInternalError) and "noproc" not in str(exc):
                raise
            return False
        if message is not None:  # raced with a publisher of an older, settled shape: give it back
            await message.nack(requeue=True)
        return True


async def _delete(url: str, names: list[str]) -> None:
    async def delete(name: str) -> None:
        async with await aio_pika.connect(url, timeout=10) as connection:
            channel = await connection.channel()
            await asyncio.wait_for(channel.queue_delete(name), DELETE_SECONDS)

    await asyncio.gather(*(delete(name) for name in names))
