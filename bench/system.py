"""The system under test, from outside: distributed (every service its own process on PostgreSQL +
RabbitMQ, `deploy.distributed.Cluster`) or embedded (`deploy.embedded.build_embedded` in one
process), both with the fake Graph API recording sends; a customer crowd that POSTs signed text
webhooks to ingest; and a poller that learns when each customer got the bot's reply."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import ADMIN, APP_SECRET, ROOT, Run, amqp_url, database_url, free_port, log, rss_mb
from bench.loadgen import RawHttp, closed_loop, paced

SERVICES = ("panel-api", "ingest", "tickets", "bot", "chat", "scheduler")
THROUGHPUT = "1000"  # WhatsApp's top tier: the client's pacing must not be what we measure


@dataclass
class System:
    mode: str
    ingest: tuple[str, int]
    graph: tuple[str, int, str]  # host, port, path prefix of the fake Graph
    pids: dict[str, int] = field(default_factory=dict)

    def rss(self) -> dict[str, float | None]:
        return {name: rss_mb(pid) for name, pid in self.pids.items()}

    def peak_rss(self) -> dict[str, float | None]:
        out = {}
        for name, pid in self.pids.items():
            try:
                text = Path(f"/proc/{pid}/status").read_text()
                out[name] = int(text.split("VmHWM:")[1].split()[0]) / 1024
            except (OSError, IndexError, ValueError):
                out[name] = None
        return out


class Distributed:
    """Every service as its own process (the containers' entry points), isolated by schema and namespace."""

    def __init__(self, run: Run, what: str) -> None:
        from deploy.distributed import Cluster

        self.run, self.namespace, self.prefix = run, run.namespace(what), run.schema_prefix(what)
        ports = {name: free_port() for name in SERVICES}
        self.cluster = Cluster(
            env={"DATABASE_URL": database_url(), "AMQP_URL": amqp_url(), "BUS_NAMESPACE": self.namespace,
                 "WHATSAPP_APP_SECRET": APP_SECRET, "ADMIN_USERNAME": ADMIN[0], "ADMIN_PASSWORD": ADMIN[1],
                 "LOG_FORMAT": "json", "WHATSAPP_THROUGHPUT": THROUGHPUT},
            ports=ports, schema_prefix=self.prefix, fake_graph_port=free_port(), log_dir=run.work_dir / f"{what}-logs")

    def __enter__(self) -> System:
        from bench.common import delete_namespace, drop_schemas
        self.run.on_cleanup(lambda: drop_schemas(self.prefix))
        self.run.on_cleanup(lambda: delete_namespace(self.namespace))
        self.run.on_cleanup(self.cluster.stop)
        c = self.cluster

        def start() -> None:
            c._spawn("fake-graph", ["-m", "bench.fakegraph", "--port", str(c.fake_graph_port), "--app-secret",
                                    APP_SECRET, "--webhook-url",
                                    f"http://127.0.0.1:{c.ports['ingest']}/webhooks/whatsapp"],
                     {**os.environ, "PYTHONPATH": str(ROOT)})
            for service in c.ports:
                c.start_service(service)
            c.wait_ready(timeout=120)

        try:
            start()
        except RuntimeError:  # a service died at start: the shared broker may be restarting; once more
            from bench.common import wait_for_infrastructure
            c.stop()
            wait_for_infrastructure()
            start()
        return System("distributed", ("127.0.0.1", c.ports["ingest"]), ("127.0.0.1", c.fake_graph_port, ""),
                      {name: p.pid for name, p in c.processes.items()})

    def __exit__(self, *exc: object) -> None:
        self.cluster.stop()


class Embedded:
    """`build_embedded(settings)` — SQLite, the in-memory bus, the sandbox Graph — as its own process."""

    def __init__(self, run: Run, what: str) -> None:
        self.run, self.port = run, free_port()
        self.data_dir = run.work_dir / f"{what}-data"
        self.log_path = run.work_dir / f"{what}.log"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> System:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DATA_DIR": str(self.data_dir), "PORT": str(self.port),
               "WHATSAPP_APP_SECRET": APP_SECRET, "ADMIN_USERNAME": ADMIN[0], "ADMIN_PASSWORD": ADMIN[1],
               "LOG_FORMAT": "json", "WHATSAPP_THROUGHPUT": THROUGHPUT}
        for name in ("DATABASE_URL", "AMQP_URL"):
            env.pop(name, None)
        out = self.log_path.open("ab")
        self.process = subprocess.Popen([sys.executable, "-m", "bench.embedded"], env=env, cwd=ROOT, stdout=out,
                                        stderr=subprocess.STDOUT)
        self.run.on_cleanup(self.stop)
        deadline = time.monotonic() + 90
        import httpx
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"embedded exited with {self.process.returncode}: "
                                   f"{self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("embedded not ready after 90 s")
            time.sleep(0.2)
        return System("embedded", ("127.0.0.1", self.port), ("127.0.0.1", self.port, "/sandbox/graph"),
                      {"embedded": self.process.pid})

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- the customers ---------------------------------------------------------------------------------

class Crowd:
    """Customers with unique phones; each message is a signed Meta text webhook POSTed to ingest."""

    def __init__(self, tag: str) -> None:
        self.stem = "549" + str(abs(hash(tag)) % 10**3).zfill(3)
        self.count = 0

    def phones(self, n: int) -> list[str]:
        out = [f"{self.stem}{self.count + i:07d}" for i in range(n)]
        self.count += n
        return out

    @staticmethod
    def request(phone: str, text: str = "hola") -> tuple[bytes, dict[str, str]]:
        from tests.e2e.harness import sign, text_message
        body = text_message(f"wamid.BENCH-{phone}-{time.time_ns()}", phone, f"Cliente {phone[-4:]}", text,
                            ts=int(time.time()))
        return body, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, APP_SECRET)}


async def post_all(system: System, phones: list[str], *, rate: float | None = None,
                   concurrency: int = 32) -> dict[str, Any]:
    """POST one message per phone (paced at ``rate``/s, or closed loop with ``concurrency``).
    Returns send times (epoch seconds, just before each POST) and the failures."""
    http = RawHttp(*system.ingest, connections=concurrency if rate is None else 64)
    sent: dict[str, float] = {}
    failures: list[str] = []

    async def send(i: int) -> None:
        body, headers = Crowd.request(phones[i])
        sent[phones[i]] = time.time()
        status, payload = await http.request("POST", "/webhooks/whatsapp", body, headers)
        if status != 200:
            failures.append(f"{status} {payload[:100]!r}")

    try:
        if rate is None:
            results = await closed_loop(len(phones), send, concurrency=concurrency)
        else:
            results = await paced(rate, len(phones), send)
    finally:
        await http.close()
    failures += [repr(r) for r in results if isinstance(r, Exception)]
    return {"sent": sent, "failures": failures}


class ReplyWatch:
    """Polls the fake Graph's compact send log; remembers each recipient's first reply time."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.next = 0
        self.first_reply: dict[str, float] = {}
        self.sends = 0
        self.webhooks_failed = 0

    async def poll(self, http: RawHttp) -> None:
        _host, _port, prefix = self.system.graph
        status, body = await http.request("GET", f"{prefix}/_bench/sends?since={self.next}")
        if status != 200:
            raise RuntimeError(f"fake graph answered {status}: {body[:200]!r}")
        data = json.loads(body)
        self.next = data["next"]
        self.webhooks_failed = data["webhooks_failed"]
        for _seq, at, recipient, _key, _type in data["sends"]:
            self.sends += 1
            if recipient is not None and recipient not in self.first_reply:
                self.first_reply[recipient] = at

    async def poll_start(self) -> None:
        """Ignore every send recorded so far."""
        http = RawHttp(self.system.graph[0], self.system.graph[1], connections=1)
        try:
            _status, body = await http.request("GET", f"{self.system.graph[2]}/_bench/sends?since=1000000000")
            self.next = json.loads(body)["next"]
        finally:
            await http.close()

    async def wait(self, phones: list[str], timeout: float, interval: float = 0.25) -> bool:
        http = RawHttp(self.system.graph[0], self.system.graph[1], connections=1, timeout=60)
        deadline = time.monotonic() + timeout
        pending = set(phones)
        last_report = time.monotonic()
        try:
            while True:
                await self.poll(http)
                pending -= self.first_reply.keys()
                if not pending:
                    return True
                if time.monotonic() > deadline:
                    return False
                if time.monotonic() - last_report > 15:
                    log(f"  … {len(phones) - len(pending)}/{len(phones)} replied")
                    last_report = time.monotonic()
                await asyncio.sleep(interval)
        finally:
            await http.close()


def settle(system: System, namespace: str | None, timeout: float = 60.0) -> bool:
    """Wait until the system is quiet: no queued messages (distributed) and the send log still."""
    from bench.common import queue_depths

    async def sends_now() -> tuple[int, int]:
        http = RawHttp(system.graph[0], system.graph[1], connections=1)
        try:
            _status, body = await http.request("GET", f"{system.graph[2]}/_bench/sends?since=1000000000")
            data = json.loads(body)
            return data["next"], data["queued"] or 0
        finally:
            await http.close()

    deadline = time.monotonic() + timeout
    last, stable = -1, 0
    while time.monotonic() < deadline:
        now, queued = asyncio.run(sends_now())
        depth = sum(queue_depths(namespace).values()) if namespace else queued
        stable = stable + 1 if depth == 0 and now == last else 0
        if stable >= 4:
            return True
        last = now
        time.sleep(0.5)
    return False
