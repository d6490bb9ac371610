"""B3's baseline: the round trips a message's critical path is made of, each measured alone (one at
a time, on the same machine, broker and database, while the system idles), and their sum.

The path from a customer's webhook to the bot's reply at the Graph API:
  HTTP POST to ingest -> broker hop (ingest -> tickets) -> save (ticket) -> broker hop (tickets -> bot)
  -> save (bot turn) -> broker hop (bot -> chat) -> save (reply requested) -> broker hop (chat's own
  "recorded" event -> its sender) -> save (send attempt) -> HTTP POST to the Graph API.
So: 1 ingest HTTP round trip + 4 broker hops + 4 event-store saves + 1 Graph API round trip.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from bench.common import amqp_url, database_url, percentile
from bench.loadgen import RawHttp
from bench.system import System

HOPS, SAVES = 4, 4


async def http_rtt(host: str, port: int, path: str, samples: int, headers: dict[str, str] | None = None) -> list[float]:
    http = RawHttp(host, port, connections=1)
    out = []
    try:
        for _ in range(samples):
            start = time.perf_counter()
            status, body = await http.request("GET", path, headers=headers)
            out.append(time.perf_counter() - start)
            if status != 200:
                raise RuntimeError(f"GET {path}: {status} {body[:200]!r}")
    finally:
        await http.close()
    return out


async def broker_hop(namespace: str, samples: int, body: bytes) -> list[float]:
    """Publish with confirm to a quorum queue and receive it on a consumer, one at a time."""
    import aio_pika
    from aio_pika import DeliveryMode

    connection = await aio_pika.connect(amqp_url())
    out: list[float] = []
    name = f"{namespace}.bench-rtt-{uuid.uuid4().hex[:6]}"
    try:
        publish = await connection.channel(publisher_confirms=True)
        consume = await connection.channel()
        await consume.set_qos(prefetch_count=32)
        queue = await consume.declare_queue(name, durable=True, arguments={"x-queue-type": "quorum"})
        arrived: asyncio.Queue = asyncio.Queue()

        async def on_message(message) -> None:
            await message.ack()
            arrived.put_nowait(time.perf_counter())

        tag = await queue.consume(on_message)
        for _ in range(samples):
            start = time.perf_counter()
            await publish.default_exchange.publish(
                aio_pika.Message(body, delivery_mode=DeliveryMode.PERSISTENT, content_type="application/json"),
                routing_key=name)
            end = await asyncio.wait_for(arrived.get(), 10)
            out.append(end - start)
        await queue.cancel(tag)
        await queue.delete(if_unused=False, if_empty=False)
    finally:
        await connection.close()
    return out


def save_rtt(schema: str, samples: int) -> list[float]:
    """One event-store save (a new aggregate's event + the tracking row, one transaction)."""
    from eventsourcing.domain import Aggregate, event

    from mostrador.platform.esapp import ServiceApplication, eventsourcing_env

    class Probe(Aggregate):
        @event("Made")
        def __init__(self, payload: dict) -> None:
            self.payload = payload

    class ProbeApp(ServiceApplication):
        name = "probe"

    app = ProbeApp(env=eventsourcing_env(database_url=database_url(), sqlite_path=None, schema=schema))
    payload = {"text": "hola, quiero hacer un pedido", "customer": {"key": "5491155500001", "name": "Cliente"}}
    out = []
    try:
        for i in range(samples):
            start = time.perf_counter()
            app.save_processed(f"probe-{i}", Probe(payload))
            out.append(time.perf_counter() - start)
    finally:
        app.close()
    return out


def measure(system: System, namespace: str, schema: str, samples: int) -> dict[str, Any]:
    from bench.b1_ingest import envelope_bytes, webhook_body

    body = envelope_bytes(webhook_body())

    async def network() -> tuple[list[float], list[float], list[float]]:
        ingest = await http_rtt(*system.ingest, "/healthz", samples)
        graph = await http_rtt(system.graph[0], system.graph[1], f"{system.graph[2]}/v25.0/109876543210987",
                               samples, {"Authorization": "Bearer sandbox-token"})
        hop = await broker_hop(namespace, samples, body)
        return ingest, graph, hop

    ingest, graph, hop = asyncio.run(network())
    save = save_rtt(schema, samples)
    p50 = {name: percentile(values, 50) * 1000 for name, values in
           (("ingest_http_ms", ingest), ("graph_http_ms", graph), ("broker_hop_ms", hop), ("save_ms", save))}
    p50["sum_ms"] = p50["ingest_http_ms"] + p50["graph_http_ms"] + HOPS * p50["broker_hop_ms"] + SAVES * p50["save_ms"]
    return p50
