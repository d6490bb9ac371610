"""Starting the chaos system (and always cleaning it up), and knowing when it has caught up."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import psycopg

from tests.chaos import infra
from tests.chaos.cluster import SERVICES, ChaosCluster, Supervisor
from tests.chaos.proxy import TcpProxy
from tests.e2e.harness import ADMIN, APP_SECRET, free_port


@contextmanager
def chaos_system(database_url: str, amqp_url: str, log_dir: Path, *, proxied: str = "chat", wait_ready: bool = True,
                 **env: str):
    """Every service as a process (the one named ``proxied`` reaching RabbitMQ through a TcpProxy),
    under a Supervisor. Cleans up everything it made — processes, schemas, the bus namespace — and
    leaves RabbitMQ and PostgreSQL running, whatever happened. ``wait_ready=False`` yields as soon as
    the processes are spawned (to strike while they start)."""
    prefix = f"chaos_{uuid.uuid4().hex[:8]}_"
    namespace = f"chaos-{uuid.uuid4().hex[:8]}"
    amqp = urlparse(amqp_url)
    base_env = {"DATABASE_URL": database_url, "AMQP_URL": amqp_url, "BUS_NAMESPACE": namespace,
                "WHATSAPP_APP_SECRET": APP_SECRET, "ADMIN_USERNAME": ADMIN[0], "ADMIN_PASSWORD": ADMIN[1],
                "LOG_FORMAT": "json", "LOG_LEVEL": "INFO", "SCHEDULER_POLL_SECONDS": "0.5", **env}
    with TcpProxy(amqp.port or 5672, amqp.hostname or "127.0.0.1") as proxy:
        proxied_url = amqp._replace(netloc=f"{amqp.username}:{amqp.password}@127.0.0.1:{proxy.port}").geturl()
        cluster = ChaosCluster(env=base_env, ports={s: free_port() for s in SERVICES}, schema_prefix=prefix,
                               fake_graph_port=free_port(), log_dir=log_dir, amqp_overrides={proxied: proxied_url})
        cluster.namespace = namespace  # type: ignore[attr-defined]
        supervisor = Supervisor(cluster)
        try:
            cluster.start()
            if wait_ready:
                cluster.wait_ready(timeout=90)
            with supervisor:
                yield cluster, proxy, supervisor
        except BaseException:
            for log in sorted(log_dir.glob("*.log")):
                print(f"==== {log.name}\n{log.read_text(errors='replace')[-2500:]}")
            raise
        finally:
            cluster.stop(timeout=15)
            infra.ensure_running(amqp.port or 5672)
            if os.environ.get("CHAOS_KEEP") != "1":  # CHAOS_KEEP=1: leave the stores for a post-mortem
                with psycopg.connect(database_url, autocommit=True) as conn:
                    like = prefix.replace("_", r"\_") + "%"
                    for (schema,) in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s",
                                                  (like,)).fetchall():
                        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            delete_namespace(amqp_url, namespace)


def delete_namespace(amqp_url: str, namespace: str) -> None:
    """Drop the run's queues and exchanges (from a thread: callers may be inside an event loop)."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.contract.conftest import _delete_namespace
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _delete_namespace(amqp_url, namespace)).result(60)


class Progress:
    """What the services stored so far, read straight from their schemas (cheap counts)."""

    def __init__(self, database_url: str, prefix: str) -> None:
        self.url, self.prefix = database_url, prefix

    def _one(self, sql: str) -> int:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=3) as conn:
            return int(conn.execute(sql).fetchone()[0] or 0)

    def counts(self) -> dict[str, int]:
        """Customer messages the bot took a turn on, replies it asked for, and replies the panel shows
        as handed to WhatsApp (sent, delivered, read — or resolved by a status webhook after a crash)."""
        p = self.prefix
        return {
            "turns": self._one(f"""SELECT count(*) FROM "{p}bot".bot_events
                                   WHERE topic LIKE '%%:Conversation.MessageHandled'"""),
            "requested": self._one(f"""SELECT count(*) FROM "{p}bot".bot_events
                                       WHERE topic LIKE '%%:Conversation.ReplyRequested'"""),
            "resolved": self._one(f"""SELECT count(*) FROM "{p}panel_api".messages
                                      WHERE state::jsonb->>'direction' = 'out'
                                        AND state::jsonb->>'status' <> 'pending'"""),
        }

    def relays_behind(self) -> dict[str, int]:
        behind = {}
        for producer in ("tickets", "bot", "chat"):
            schema = f'"{self.prefix}{producer}"'
            top = self._one(f"SELECT max(notification_id) FROM {schema}.{producer}_events")
            done = self._one(f"""SELECT max(notification_id) FROM {schema}.{producer}_tracking
                                 WHERE application_name = 'relay:{producer}'""")
            behind[producer] = top - done
        return behind


def queue_depths(namespace: str) -> dict[str, tuple[int, int]]:
    """{queue: (messages, unacknowledged)} for the run's namespace (rabbitmqctl sees unacked too)."""
    out = subprocess.run(["rabbitmqctl", "-q", "list_queues", "name", "messages", "messages_unacknowledged",
                          "--formatter", "json"], check=False, capture_output=True, text=True,
                         timeout=60)
    rows = json.loads(out.stdout or "[]")
    return {r["name"]: (int(r["messages"]), int(r["messages_unacknowledged"])) for r in rows
            if r["name"].startswith(namespace + ".")}


async def wait_caught_up(progress: Progress, namespace: str, expected_turns: int, timeout: float) -> dict[str, Any]:
    """Until the bot took a turn on every accepted message, every reply it asked for is out (as the panel
    shows), the relays published everything and the queues are empty."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            last = await asyncio.to_thread(progress.counts)
            last["expected_turns"] = expected_turns
            if last["turns"] >= expected_turns and last["resolved"] >= last["requested"]:
                behind = await asyncio.to_thread(progress.relays_behind)
                last["relays_behind"] = behind
                if not any(behind.values()):
                    depths = await asyncio.to_thread(queue_depths, namespace)
                    busy = {q: d for q, d in depths.items() if d != (0, 0) and not q.endswith(".dlq")}
                    last["busy_queues"] = busy
                    if not busy:
                        last["at"] = time.time()
                        return last
        except (psycopg.Error, json.JSONDecodeError, subprocess.TimeoutExpired) as exc:
            last["error"] = repr(exc)
        await asyncio.sleep(0.5)
    raise AssertionError(f"the system did not catch up within {timeout}s: {last}")


def fake_graph(cluster: ChaosCluster) -> dict[str, Any]:
    return httpx.get(f"http://127.0.0.1:{cluster.fake_graph_port}/_fake/requests", timeout=60).json()
