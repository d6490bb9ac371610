"""B1 — ingest throughput.

Timed: wrk (one thread, 32 connections) POSTing one signed Meta text webhook to the real ingest
service (`python -m mostrador.ingest`, one uvicorn worker, on RabbitMQ + PostgreSQL), which answers
200 only after the broker confirmed the event. Baseline, same run, same broker: raw aio-pika in one
process (uvloop, like uvicorn) publishing the very envelope ingest publishes for that webhook, with
publisher confirms, persistent, 32 publishes in flight, to the same exchange and routing key — so
into the same two quorum queues. Rounds alternate baseline / ingest; the medians are reported.
"""

from __future__ import annotations

import asyncio
import time

from bench.common import (
    APP_SECRET,
    QUEUE_TYPE,
    Goal,
    Recorder,
    Run,
    amqp_url,
    cpu_seconds,
    log,
    median,
    percentile,
)
from bench.loadgen import WRK_REPORT, run_wrk, wrk_post_script

CLIENTS = 32
ROUTING_KEY = "ingest.message.received.v1"


def webhook_body() -> bytes:
    from tests.e2e.harness import text_message
    return text_message("wamid.BENCH-B1-0001", "5491155500001", "Bench Cliente", "hola, quiero hacer un pedido",
                        ts=int(time.time()))


def envelope_bytes(body: bytes) -> bytes:
    from mostrador.ingest.webhook import envelopes_for
    from mostrador.platform.clock import SystemClock
    from mostrador.whatsapp.webhook import parse_webhook
    [envelope] = envelopes_for(parse_webhook(body), SystemClock())
    return envelope.to_bytes()


async def raw_publish(namespace: str, body: bytes, seconds: float, in_flight: int) -> dict[str, float]:
    import aio_pika
    from aio_pika import DeliveryMode

    connection = await aio_pika.connect(amqp_url())
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(f"{namespace}.events")
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds

        async def publisher() -> None:
            while time.perf_counter() < deadline:
                message = aio_pika.Message(body, content_type="application/json",
                                           delivery_mode=DeliveryMode.PERSISTENT, message_id="bench",
                                           type=ROUTING_KEY, app_id="bench")
                start = time.perf_counter()
                await exchange.publish(message, routing_key=ROUTING_KEY)
                latencies.append(time.perf_counter() - start)

        start = time.perf_counter()
        await asyncio.gather(*(publisher() for _ in range(in_flight)))
        elapsed = time.perf_counter() - start
    finally:
        await connection.close()
    ms = [x * 1000 for x in latencies]
    return {"rps": len(latencies) / elapsed, "p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99),
            "requests": len(latencies)}


async def purge(namespace: str) -> None:
    import aio_pika
    connection = await aio_pika.connect(amqp_url())
    try:
        channel = await connection.channel()
        for service in ("tickets", "ingest"):
            queue = await channel.get_queue(f"{namespace}.{service}.inbox")
            await queue.purge()
    finally:
        await connection.close()


def run(run: Run, rec: Recorder) -> None:
    from bench.common import delete_namespace, drop_schemas, one_service

    profile = run.profile
    namespace, prefix = run.namespace("b1"), run.schema_prefix("b1")
    run.on_cleanup(lambda: drop_schemas(prefix))
    run.on_cleanup(lambda: delete_namespace(namespace))
    _cluster, port = one_service(run, "ingest", "b1", {"WHATSAPP_APP_SECRET": APP_SECRET})
    body = webhook_body()
    from tests.e2e.harness import sign
    script = wrk_post_script("/webhooks/whatsapp", body, {"Content-Type": "application/json",
                                                          "X-Hub-Signature-256": sign(body, APP_SECRET)})
    url = f"http://127.0.0.1:{port}"
    envelope = envelope_bytes(body)
    seconds = profile.b1_seconds
    log(f"B1 warm-up ({CLIENTS} clients)")
    run_wrk(url, script, connections=CLIENTS, seconds=max(1, seconds / 4))
    asyncio.run(purge(namespace))
    rounds: list[tuple[dict, dict]] = []
    pid = _cluster.processes["ingest"].pid
    for i in range(profile.b1_rounds):
        cpu0 = time.process_time()
        base = _uvloop_run(raw_publish(namespace, envelope, seconds, CLIENTS))
        base["cpu_us"] = (time.process_time() - cpu0) * 1e6 / max(1, base["requests"])
        asyncio.run(purge(namespace))
        cpu0 = cpu_seconds(pid)
        report = run_wrk(url, script, connections=CLIENTS, seconds=seconds)
        report["cpu_us"] = (cpu_seconds(pid) - cpu0) * 1e6 / max(1, report["requests"])
        asyncio.run(purge(namespace))
        log(f"B1 round {i + 1}: ingest {report['rps']:.0f} req/s p99 {report['p99_ms']:.1f} ms, "
            f"non-2xx {report['non2xx']}; raw aio-pika {base['rps']:.0f} msg/s")
        rounds.append((report, base))
    rps = median([r["rps"] for r, _ in rounds])
    base_rps = median([b["rps"] for _, b in rounds])
    p99 = median([r["p99_ms"] for r, _ in rounds])
    errors = sum(r["non2xx"] + r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"]
                 for r, _ in rounds)
    what = f"raw aio-pika confirmed publish, {CLIENTS} in flight, same exchange/queues ({QUEUE_TYPE})"
    rec.add("ingest throughput", rps, "req/s", baseline=base_rps, baseline_what=what, goal=Goal(">=", 0.5, "ratio"),
            clients=CLIENTS, rounds=len(rounds), queue_type=QUEUE_TYPE,
            per_round_rps=[round(r["rps"]) for r, _ in rounds], baseline_per_round=[round(b["rps"]) for _, b in rounds])
    rec.add("ingest throughput (absolute)", rps, "req/s", goal=Goal(">=", 3000))
    rec.add("ingest latency p99", p99, "ms", baseline=median([b["p99_ms"] for _, b in rounds]),
            baseline_what="raw publish confirm p99", goal=Goal("<=", 50),
            p50_ms=median([r["p50_ms"] for r, _ in rounds]), p95_ms=median([r["p95_ms"] for r, _ in rounds]))
    cpu0 = cpu_seconds(pid)
    floor = run_wrk(url + "/healthz", WRK_REPORT, connections=CLIENTS, seconds=max(1, seconds / 2))
    floor_cpu = (cpu_seconds(pid) - cpu0) * 1e6 / max(1, floor["requests"])
    rec.add("ingest CPU per request", median([r["cpu_us"] for r, _ in rounds]), "us",
            baseline=median([b["cpu_us"] for _, b in rounds]), baseline_what="raw aio-pika CPU per confirmed publish",
            framework_floor_us=floor_cpu, framework_floor_rps=floor["rps"],
            note="framework floor: GET /healthz on the same process (uvicorn + FastAPI, nothing else)")
    rec.add("ingest non-2xx and socket errors", errors, "responses", goal=Goal("<=", 0),
            requests=sum(r["requests"] for r, _ in rounds))


def _uvloop_run(coro):
    try:
        import uvloop
        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)
