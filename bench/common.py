"""What every benchmark shares: the profile (full / quick), figures and their goals, the machine and
versions each JSON line carries, isolation (a PostgreSQL schema prefix and a RabbitMQ namespace per
run, dropped at the end), percentiles, and the processes' resident memory."""

from __future__ import annotations

import contextlib
import math
import os
import platform
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
APP_SECRET = "bench-app-secret"
ADMIN = ("bench", "bench-admin-password-1")
QUEUE_TYPE = "quorum"  # what RabbitBus declares for every inbox (reported with every figure)


@dataclass(frozen=True)
class Profile:
    name: str
    b1_seconds: float
    b1_rounds: int
    b2_messages: int
    b3_seconds: float
    b3_rates: tuple[int, ...]
    b4_tickets: int
    b4_requests: int  # per scenario at 1 client
    b4_seconds: float  # the 16-client run
    b5_events: int
    b6_messages: int
    b6_seconds: float

    @property
    def quick(self) -> bool:
        return self.name == "quick"


FULL = Profile("full", b1_seconds=10, b1_rounds=3, b2_messages=10_000, b3_seconds=30, b3_rates=(80, 400),
               b4_tickets=1_000_000, b4_requests=200, b4_seconds=10, b5_events=1_000_000, b6_messages=10_000,
               b6_seconds=30)
QUICK = Profile("quick", b1_seconds=2, b1_rounds=1, b2_messages=300, b3_seconds=1, b3_rates=(80, 400),
                b4_tickets=20_000, b4_requests=20, b4_seconds=2, b5_events=20_000, b6_messages=300,
                b6_seconds=1)


@dataclass(frozen=True)
class Goal:
    """``of`` the figure's value or its ratio to the baseline, compared with ``op``."""

    op: str  # ">=" or "<="
    target: float
    of: str = "value"  # "value" | "ratio"

    def check(self, value: float | None, ratio: float | None) -> bool | None:
        x = ratio if self.of == "ratio" else value
        if x is None:
            return None
        return x >= self.target if self.op == ">=" else x <= self.target

    def __str__(self) -> str:
        return f"{'ratio ' if self.of == 'ratio' else ''}{self.op} {self.target:g}"


@dataclass
class Figure:
    bench: str
    figure: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_what: str | None = None
    ratio: float | None = None
    goal: Goal | None = None
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def passed(self) -> bool | None:
        if self.error:
            return False
        return self.goal.check(self.value, self.ratio) if self.goal else None

    def as_json(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "goal"}
        out["goal"] = str(self.goal) if self.goal else None
        out["pass"] = self.passed
        return out


class Recorder:
    """Collects the figures of one benchmark."""

    def __init__(self, bench: str) -> None:
        self.bench = bench
        self.figures: list[Figure] = []

    def add(self, figure: str, value: float | None, unit: str, *, baseline: float | None = None,
            baseline_what: str | None = None, goal: Goal | None = None, ratio: float | None = None,
            **details: Any) -> Figure:
        """``ratio`` defaults to value / baseline (for latencies: how many times the baseline it takes)."""
        if ratio is None and baseline and value is not None:
            ratio = value / baseline
        fig = Figure(self.bench, figure, _round(value), unit, _round(baseline), baseline_what, _round(ratio, 3),
                     goal, {k: _round(v) for k, v in details.items()})
        self.figures.append(fig)
        return fig

    def fail(self, figure: str, error: str) -> Figure:
        fig = Figure(self.bench, figure, None, "", error=error)
        self.figures.append(fig)
        return fig


def _round(value: Any, digits: int = 4) -> Any:
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return float(f"{value:.{digits}g}") if abs(value) < 1e4 else round(value, 1)
    return value


# -- statistics ----------------------------------------------------------------------------------

def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(-(-q * len(ordered) // 100)) - 1))
    return ordered[rank]


def summary_ms(seconds: Sequence[float]) -> dict[str, float | None]:
    ms = [s * 1000 for s in seconds]
    return {"p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95), "p99_ms": percentile(ms, 99),
            "max_ms": max(ms) if ms else None, "n": len(ms)}


def median(values: Sequence[float]) -> float | None:
    return percentile(values, 50) if values else None


# -- environment ---------------------------------------------------------------------------------

def database_url() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def amqp_url() -> str:
    return os.environ.get("AMQP_URL") or DEFAULT_AMQP_URL


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def infrastructure_problem() -> str | None:
    """Why the suite cannot run (None: PostgreSQL and RabbitMQ answer)."""
    import psycopg
    try:
        with psycopg.connect(database_url(), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any reason is a reason
        return f"PostgreSQL at {database_url()}: {exc}"
    from urllib.parse import urlparse
    url = urlparse(amqp_url())
    if url.hostname not in ("127.0.0.1", "localhost", "::1"):
        return f"AMQP_URL must be on loopback, got {url.hostname}"
    if not port_open(url.port or 5672, url.hostname):
        return f"RabbitMQ at {amqp_url()} does not answer"
    return None


def wait_for_infrastructure(timeout: float = 90.0) -> None:
    """Other people restart the broker (chaos tests share this machine): wait until both answer."""
    deadline = time.monotonic() + timeout
    while (problem := infrastructure_problem()) is not None:
        if time.monotonic() > deadline:
            raise RuntimeError(problem)
        time.sleep(1)
    with contextlib.suppress(Exception):
        rabbitmq_version()  # the port opens before the broker accepts connections
        return
    time.sleep(3)


@dataclass
class Run:
    """One `python -m bench` invocation: its profile, ids and what it must clean up."""

    profile: Profile
    run_id: str = field(default_factory=lambda: time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:4])
    work_dir: Path | None = None
    shared: dict[str, Any] = field(default_factory=dict)  # figures one benchmark hands to another (B2 -> B6)
    _cleanups: list[Callable[[], None]] = field(default_factory=list)

    @property
    def tag(self) -> str:
        """Short, identifier-safe: schema prefixes, namespaces, database names."""
        return "bench_" + re.sub(r"\W", "_", self.run_id.split("-")[-1] + self.run_id[9:15]).lower()

    def schema_prefix(self, what: str) -> str:
        return f"{self.tag}_{what}_"

    def namespace(self, what: str) -> str:
        return f"{self.tag.replace('_', '-')}-{what}"

    def on_cleanup(self, fn: Callable[[], None]) -> None:
        self._cleanups.append(fn)

    def cleanup(self) -> None:
        while self._cleanups:
            fn = self._cleanups.pop()
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - keep cleaning the rest
                print(f"  cleanup: {exc!r}", file=sys.stderr)


def drop_schemas(prefix: str) -> None:
    import psycopg
    with psycopg.connect(database_url(), autocommit=True) as conn:
        rows = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (prefix + "%",)).fetchall()
        for (schema,) in rows:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def delete_namespace(namespace: str) -> None:
    """Every queue and exchange RabbitBus declares under ``namespace`` (durable ones stay forever otherwise)."""
    import asyncio

    import aio_pika

    from mostrador.events.topology import COMMAND_SERVICES, INBOXES

    async def run() -> None:
        connection = await aio_pika.connect(amqp_url())
        try:
            names = [f"{s}.inbox" for s in INBOXES] + [f"{s}.inbox.dlq" for s in INBOXES]
            names += [f"{s}.commands" for s in COMMAND_SERVICES]
            for name in names:
                channel = await connection.channel()
                with contextlib.suppress(Exception):
                    await channel.queue_delete(f"{namespace}.{name}")
            names.append("topology.settling")
            for name in names[-1:]:
                channel = await connection.channel()
                with contextlib.suppress(Exception):
                    await channel.queue_delete(f"{namespace}.{name}")
            for name in ("events", "dlx", "commands", *settled_markers(namespace)):
                channel = await connection.channel()
                with contextlib.suppress(Exception):
                    await channel.exchange_delete(name if name.startswith(namespace) else f"{namespace}.{name}")
        finally:
            await connection.close()

    asyncio.run(run())


def settled_markers(namespace: str) -> list[str]:
    """The marker exchange RabbitBus leaves once a new topology has settled (if this version does)."""
    try:
        from mostrador.events.rabbit import RabbitBus
        from mostrador.events.settle import marker_name
        return [marker_name(RabbitBus(amqp_url(), name="bench", namespace=namespace))]
    except Exception:  # noqa: BLE001 - an older bus has no marker
        return []


def queue_depths(namespace: str) -> dict[str, int]:
    """Ready + unacked messages per inbox of a namespace (passive declares)."""
    import asyncio

    import aio_pika

    from mostrador.events.topology import INBOXES

    async def run() -> dict[str, int]:
        out = {}
        connection = await aio_pika.connect(amqp_url())
        try:
            for service in INBOXES:
                channel = await connection.channel()
                with contextlib.suppress(Exception):  # not declared (yet): no depth to report
                    queue = await channel.declare_queue(f"{namespace}.{service}.inbox", passive=True)
                    out[service] = queue.declaration_result.message_count
        finally:
            await connection.close()
        return out

    return asyncio.run(run())


# -- machine and versions ------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        ram = round(kib / 1024 / 1024, 1)
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gib": ram, "kernel": platform.release(),
            "host": socket.gethostname()}


def python_loop_ns() -> float:
    """How fast this machine runs Python right now: ns per iteration of a fixed loop, best of five.
    Shared machines change speed by the hour (threefold between two days of runs here), so every
    benchmark's lines carry the figure taken just before it: compare runs by it, not by the model name."""
    best = float("inf")
    for _ in range(5):
        start, total = time.perf_counter(), 0
        for i in range(200_000):
            total += i
        best = min(best, (time.perf_counter() - start) / 200_000 * 1e9)
    return round(best, 1)


def versions() -> dict[str, Any]:
    out: dict[str, Any] = {"python": platform.python_version()}
    for dist in ("aio-pika", "aiormq", "eventsourcing", "fastapi", "starlette", "uvicorn", "uvloop", "httptools",
                 "psycopg", "psycopg-pool", "pydantic", "pydantic-core", "httpx", "structlog"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    with contextlib.suppress(Exception):
        import psycopg
        with psycopg.connect(database_url(), connect_timeout=3) as conn:
            out["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
    with contextlib.suppress(Exception):
        out["rabbitmq"] = rabbitmq_version()
    with contextlib.suppress(Exception):
        wrk = subprocess.run(["wrk", "--version"], check=False, capture_output=True, text=True, timeout=5)
        found = re.search(r"wrk (\S+)", wrk.stdout + wrk.stderr)
        out["wrk"] = found.group(1) if found else None
    return out


def rabbitmq_version() -> str | None:
    import asyncio

    import aio_pika

    async def run() -> str | None:
        connection = await aio_pika.connect(amqp_url())
        try:
            props = connection.transport.connection.server_properties
            version = props.get("version")
            return version.decode() if isinstance(version, bytes) else version
        finally:
            await connection.close()

    return asyncio.run(run())


# -- processes ----

def one_service(run: Run, service: str, what: str, env: dict[str, str]):
    """One service as its own process (its container's entry point), on this run's schema prefix and
    RabbitMQ namespace; returns (cluster, port). Stopped by the run's cleanup."""
    import httpx

    from deploy.distributed import Cluster

    port = free_port()
    ports = {service: port} if service == "ingest" else {service: port, "ingest": free_port()}
    cluster = Cluster(env={"DATABASE_URL": database_url(), "AMQP_URL": amqp_url(),
                           "BUS_NAMESPACE": run.namespace(what), "LOG_FORMAT": "json", **env},
                      ports=ports, schema_prefix=run.schema_prefix(what), log_dir=run.work_dir / f"{what}-logs")
    run.on_cleanup(cluster.stop)
    cluster.start_service(service)
    deadline = time.monotonic() + 90
    while True:
        process = cluster.processes[service]
        if process.poll() is not None:
            raise RuntimeError(f"{service} exited with {process.returncode} (logs in {cluster.log_dir})")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return cluster, port
        if time.monotonic() > deadline:
            raise TimeoutError(f"{service} not ready after 90 s (logs in {cluster.log_dir})")
        time.sleep(0.2)


def rss_mb(pid: int) -> float | None:
    """Resident set size of a process, in MiB (None once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def infrastructure_cpu() -> dict[str, float]:
    """CPU seconds used so far by each PostgreSQL and RabbitMQ (beam) process on the machine, by
    "postgresql:<pid>" / "rabbitmq:<pid>" (per process, so a restart between two readings is not negative)."""
    out: dict[str, float] = {}
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            name = comm.read_text().strip()
        except OSError:
            continue
        kind = "postgresql" if name == "postgres" else "rabbitmq" if name == "beam.smp" else None
        if kind:
            out[f"{kind}:{comm.parent.name}"] = cpu_seconds(int(comm.parent.name)) or 0.0
    return out


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores, /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def stopwatch() -> Iterator[dict[str, float]]:
    box: dict[str, float] = {}
    start = time.perf_counter()
    try:
        yield box
    finally:
        box["seconds"] = time.perf_counter() - start


def log(message: str) -> None:
    print(f"  {time.strftime('%H:%M:%S')} {message}", flush=True)
