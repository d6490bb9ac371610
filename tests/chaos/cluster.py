"""The distributed system for chaos runs: every service its own process (deploy.distributed.Cluster),
one of them reaching the broker through a TcpProxy, and a small supervisor that restarts a process that
died — what ``restart: unless-stopped`` in docker-compose (or a Kubernetes Deployment) does in production.
The supervisor only restarts; it never tells a service anything, so recovery is the service's own doing.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Self

import httpx

from deploy.distributed import Cluster

SERVICES = ("panel-api", "ingest", "tickets", "bot", "chat", "scheduler")


@dataclass
class ChaosCluster(Cluster):
    """A Cluster whose ``amqp_overrides`` send chosen services to another AMQP URL (the proxy)."""

    amqp_overrides: dict[str, str] = field(default_factory=dict)

    def service_env(self, service: str) -> dict[str, str]:
        env = super().service_env(service)
        if service in self.amqp_overrides:
            env["AMQP_URL"] = self.amqp_overrides[service]
        return env

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def ready(self, service: str, timeout: float = 1.0) -> bool:
        try:
            return httpx.get(f"{self.url(service)}/readyz", timeout=timeout).status_code == 200
        except httpx.HTTPError:
            return False

    def all_ready(self) -> bool:
        return all(self.ready(s) for s in self.ports)

    def wait_all_ready(self, timeout: float) -> float:
        """Seconds until every service answers /readyz 200 (raises TimeoutError)."""
        started = time.monotonic()
        while not self.all_ready():
            if time.monotonic() - started > timeout:
                down = [s for s in self.ports if not self.ready(s)]
                raise TimeoutError(f"not ready after {timeout}s: {down}")
            time.sleep(0.1)
        return time.monotonic() - started


class Supervisor:
    """Restarts any service process that exited (like compose's ``restart: unless-stopped``)."""

    def __init__(self, cluster: ChaosCluster, poll: float = 0.2) -> None:
        self.cluster, self.poll = cluster, poll
        self.restarts: list[tuple[float, str, int | None]] = []  # (when, service, exit code)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="supervisor")

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.poll):
            for name in list(self.cluster.ports):
                process = self.cluster.processes.get(name)
                if process is not None and process.poll() is not None and not self._stop.is_set():
                    self.restarts.append((time.monotonic(), name, process.returncode))
                    self.cluster.start_service(name)
