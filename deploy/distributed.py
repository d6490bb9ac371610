"""`make run-distributed`: each service as its own OS process, on PostgreSQL (one schema each) and
RabbitMQ — the same entry points the containers run (`python -m mostrador.<service>`).

Without WhatsApp credentials it also starts the fake Graph API (with the customer simulator) as a
process of its own and points the services at it. Ctrl-C / SIGTERM stops everything gracefully.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PORTS = {"panel-api": 8000, "ingest": 8001, "tickets": 8002, "bot": 8003, "chat": 8004, "scheduler": 8005}
FAKE_GRAPH_PORT = 9009
ROOT = Path(__file__).resolve().parent.parent


def module_of(service: str) -> str:
    return f"mostrador.{service.replace('-', '_')}"


@dataclass
class Cluster:
    """The running processes of one distributed deployment."""

    env: dict[str, str]
    ports: dict[str, int]
    schema_prefix: str = ""
    fake_graph_port: int | None = None
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    log_dir: Path | None = None

    def service_env(self, service: str) -> dict[str, str]:
        env = {**os.environ, **self.env, "PORT": str(self.ports[service]),
               "DB_SCHEMA": f"{self.schema_prefix}{service.replace('-', '_')}",
               "INGEST_URL": f"http://127.0.0.1:{self.ports['ingest']}"}
        if self.fake_graph_port:  # the sandbox: no access token, and its public secrets are allowed
            env.setdefault("WHATSAPP_GRAPH_BASE_URL", f"http://127.0.0.1:{self.fake_graph_port}/v25.0")
            env.setdefault("WHATSAPP_SANDBOX", "true")
        return env

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        out = subprocess.DEVNULL
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.processes[name] = subprocess.Popen([sys.executable, *args], env=env, cwd=ROOT, stdout=out,
                                                stderr=subprocess.STDOUT)

    def start_service(self, service: str) -> None:
        self._spawn(service, ["-m", module_of(service)], self.service_env(service))

    def start_fake_graph(self) -> None:
        secret = self.env.get("WHATSAPP_APP_SECRET", "sandbox-app-secret")
        self._spawn("fake-graph", ["-m", "mostrador.whatsapp.fakegraph", "--host", "127.0.0.1",
                                   "--port", str(self.fake_graph_port), "--app-secret", secret,
                                   "--access-token", "sandbox-token", "--webhook-url",
                                   f"http://127.0.0.1:{self.ports['ingest']}/webhooks/whatsapp"],
                    {**os.environ, **self.env})

    def start(self) -> None:
        if self.fake_graph_port:
            self.start_fake_graph()
        for service in self.ports:
            self.start_service(service)

    def wait_ready(self, timeout: float = 60.0) -> None:
        import httpx
        deadline = time.monotonic() + timeout
        for service, port in self.ports.items():
            while True:
                process = self.processes[service]
                if process.poll() is not None:
                    raise RuntimeError(f"{service} exited with {process.returncode}")
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{service} not ready on :{port} after {timeout}s")
                time.sleep(0.2)

    def stop(self, service: str | None = None, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        names = [service] if service else list(self.processes)
        for name in names:
            if self.processes[name].poll() is None:
                self.processes[name].send_signal(sig)
        for name in names:
            try:
                self.processes[name].wait(timeout)
            except subprocess.TimeoutExpired:
                self.processes[name].kill()
                self.processes[name].wait()


def main() -> None:
    env = {k: v for k, v in os.environ.items() if k in ("DATABASE_URL", "AMQP_URL")}
    if "AMQP_URL" not in env or "DATABASE_URL" not in env:
        sys.exit("run-distributed needs DATABASE_URL and AMQP_URL, e.g.\n"
                 "  DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres "
                 "AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ make run-distributed")
    sandbox = not os.environ.get("WHATSAPP_ACCESS_TOKEN")
    cluster = Cluster(env={**env, "LOG_FORMAT": os.environ.get("LOG_FORMAT", "console")}, ports=dict(PORTS),
                      fake_graph_port=FAKE_GRAPH_PORT if sandbox else None)
    cluster.start()
    stopping = False

    def on_signal(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        cluster.wait_ready()
        print(f"\n  Mostrador (distributed): panel http://127.0.0.1:{PORTS['panel-api']}/  ·  webhook "
              f"http://127.0.0.1:{PORTS['ingest']}/webhooks/whatsapp"
              + (f"  ·  simulator http://127.0.0.1:{FAKE_GRAPH_PORT}/simulator" if sandbox else "") + "\n",
              flush=True)
        while not stopping and all(p.poll() is None for p in cluster.processes.values()):
            time.sleep(0.5)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
