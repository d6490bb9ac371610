"""Faults on the shared infrastructure of this machine: the RabbitMQ node and the PostgreSQL cluster.

Both are shared with whoever else runs tests here, so every fault is short and every helper leaves the
server running (``ensure_running`` is called from the tests' finalizers too). The broker's beam process is
found by its pid file and killed by that id only.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

RABBIT_PIDFILE = Path(os.environ.get("RABBITMQ_PID_FILE", "/var/lib/rabbitmq/mnesia/rabbit@localhost.pid"))
PG_VERSION, PG_CLUSTER = os.environ.get("CHAOS_PG_VERSION", "15"), os.environ.get("CHAOS_PG_CLUSTER", "main")


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(port: int, timeout: float = 60.0) -> float:
    """Seconds until the port accepts connections."""
    started = time.monotonic()
    while not port_open(port):
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"port {port} not open after {timeout}s")
        time.sleep(0.1)
    return time.monotonic() - started


def can_control_broker() -> str | None:
    """Why the broker cannot be killed and restarted from here (None: it can)."""
    if not RABBIT_PIDFILE.exists():
        return f"no RabbitMQ pid file at {RABBIT_PIDFILE}"
    if not _which("rabbitmq-server"):
        return "rabbitmq-server is not on PATH"
    return None


def can_control_postgres() -> str | None:
    if not _which("pg_ctlcluster"):
        return "pg_ctlcluster is not on PATH"
    return None


def _which(name: str) -> bool:
    return any((Path(p) / name).exists() for p in os.environ.get("PATH", "").split(os.pathsep))


def broker_pid() -> int:
    return int(RABBIT_PIDFILE.read_text().strip())


def kill_broker() -> int:
    """SIGKILL the RabbitMQ node (its beam process, by pid). Returns the pid killed."""
    pid = broker_pid()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie still answers signal 0: look at its state
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def start_broker(port: int = 5672, timeout: float = 60.0) -> float:
    """Start the node (``rabbitmq-server -detached``) and wait for its AMQP port. Returns seconds taken."""
    started = time.monotonic()
    subprocess.run(["rabbitmq-server", "-detached"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wait_port(port, timeout)
    return time.monotonic() - started


def restart_postgres(port: int = 5432) -> float:
    """``pg_ctlcluster … stop -m immediate`` (a crash: no checkpoint) then ``start``. Returns seconds down."""
    started = time.monotonic()
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", PG_VERSION, PG_CLUSTER, "stop", "-m", "immediate"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", PG_VERSION, PG_CLUSTER, "start"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_pg(port)
    return time.monotonic() - started


def wait_pg(port: int = 5432, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port)], check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise TimeoutError("PostgreSQL not ready")
        time.sleep(0.1)


def ensure_running(amqp_port: int = 5672, pg_port: int = 5432) -> None:
    """Leave the machine as we found it: both servers up (called from finalizers, never raises)."""
    try:
        if not port_open(amqp_port) and can_control_broker() is None:
            if not (RABBIT_PIDFILE.exists() and _alive(broker_pid())):
                start_broker(amqp_port)
            else:
                wait_port(amqp_port, 60)
    except Exception as exc:  # noqa: BLE001 - a finalizer reports, it does not mask the test's own failure
        print(f"chaos: could not bring RabbitMQ back: {exc!r}")
    try:
        if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(pg_port)], check=False).returncode != 0 \
                and can_control_postgres() is None:
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", PG_VERSION, PG_CLUSTER, "start"],
                           check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_pg(pg_port)
    except Exception as exc:  # noqa: BLE001
        print(f"chaos: could not bring PostgreSQL back: {exc!r}")
