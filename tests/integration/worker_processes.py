"""A service started with WORKERS=N as its own OS process, as an operator would start it: the port,
the supervisor and its worker children (integration tests of panel-api and ingest)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from deploy.distributed import ROOT


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1] == str(pid):
                    found.append(int(entry))
    return found


def start_with_workers(module: str, env: dict[str, str], port: int, log: Path, *, workers: int = 2,
                       timeout: float = 60) -> subprocess.Popen:
    """``python -m module`` until /readyz answers on ``port`` and ``workers`` children run."""
    process = subprocess.Popen([sys.executable, "-m", module], env=env, cwd=ROOT,
                               stdout=open(log, "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, log.read_text()
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200 and \
                    len(children(process.pid)) >= workers:
                return process
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(log.read_text())
        time.sleep(0.2)
