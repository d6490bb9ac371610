"""ingest as several processes on one port (WORKERS): it keeps nothing between requests, so every
worker answers webhooks and each delivery reaches the broker once, whichever worker took it."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import aio_pika
import httpx
import pytest

from tests.contract.conftest import _delete_namespace
from tests.e2e.harness import APP_SECRET, free_port, sign, text_message
from tests.integration.worker_processes import children, start_with_workers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def queued(amqp_url: str, queue: str) -> int:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        return (await channel.declare_queue(queue, passive=True)).declaration_result.message_count


def test_workers_2_runs_ingest_as_two_processes_that_each_publish(database_url, amqp_url, pg_schema, bus_namespace,
                                                                   tmp_path):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "AMQP_URL": amqp_url, "BUS_NAMESPACE": bus_namespace,
           "DB_SCHEMA": pg_schema, "WHATSAPP_APP_SECRET": APP_SECRET, "WORKERS": "2", "PORT": str(port),
           "LOG_FORMAT": "json", "BUS_TOPOLOGY_SETTLE_SECONDS": "0"}
    process = start_with_workers("mostrador.ingest", env, port, tmp_path / "out.log")
    try:
        time.sleep(1.0)  # both workers ready, not only the first
        for i in range(12):  # fresh connections: the kernel hands them to either worker
            body = text_message(f"wamid.WORKERS-{i}", f"54911000{i:05d}", "Cliente", "hola", ts=int(time.time()))
            answer = httpx.post(f"http://127.0.0.1:{port}/webhooks/whatsapp", content=body, timeout=10,
                                headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(body)})
            assert answer.status_code == 200, answer.text
        inbox = f"{bus_namespace}.tickets.inbox"
        deadline = time.monotonic() + 10
        while (count := asyncio.run(queued(amqp_url, inbox))) < 12 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert count == 12  # each delivery published once, by whichever worker took it
        assert len(children(process.pid)) >= 2  # and both workers still there
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(30) == 0, (tmp_path / "out.log").read_text()[-3000:]
        finally:
            process.kill()
            asyncio.run(_delete_namespace(amqp_url, bus_namespace))
