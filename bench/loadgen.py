"""Load generators: wrk (C, one thread = at most one core) for closed-loop throughput runs, and a
small keep-alive HTTP/1.1 client on asyncio for paced (open-loop) and scripted requests — far
cheaper per request than a general-purpose client, so the generator does not eat the system's core."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT

WRK_REPORT = r"""
done = function(summary, latency, requests)
  local p = {}
  for _, q in ipairs({50, 90, 95, 99, 99.9}) do p[tostring(q)] = latency:percentile(q) / 1000.0 end
  io.write("WRK_JSON ", string.format(
    '{"requests": %d, "duration_s": %f, "non2xx": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "timeouts": %d, "p50_ms": %f, "p90_ms": %f, "p95_ms": %f, "p99_ms": %f, ' ..
    '"p999_ms": %f, "max_ms": %f, "mean_ms": %f}\n',
    summary.requests, summary.duration / 1e6, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    p["50"], p["90"], p["95"], p["99"], p["99.9"], latency.max / 1000.0, latency.mean / 1000.0))
end
"""


def wrk_path() -> str | None:
    return shutil.which("wrk")


def lua_string(value: str) -> str:
    return "[==[" + value + "]==]"


def wrk_post_script(path: str, body: bytes, headers: dict[str, str]) -> str:
    lines = ['wrk.method = "POST"', f"wrk.body = {lua_string(body.decode())}"]
    lines += [f"wrk.headers[ {lua_string(k)} ] = {lua_string(v)}" for k, v in headers.items()]
    lines.append(f'request = function() return wrk.format(nil, {lua_string(path)}) end')
    return "\n".join(lines) + WRK_REPORT


def wrk_rotate_script(paths: list[str], headers: dict[str, str]) -> str:
    """GET each path in turn (each connection starts at a different offset)."""
    items = ",\n".join(lua_string(p) for p in paths)
    hdrs = "\n".join(f"wrk.headers[ {lua_string(k)} ] = {lua_string(v)}" for k, v in headers.items())
    return f"""{hdrs}
local paths = {{
{items}
}}
local counter = 0
setup = function(thread) end
init = function(args) counter = math.random(#paths) end
request = function()
  counter = counter % #paths + 1
  return wrk.format("GET", paths[counter])
end
""" + WRK_REPORT


def run_wrk(url: str, script: str, *, connections: int, seconds: float, threads: int = 1,
            timeout_s: float = 10) -> dict[str, Any]:
    """Run wrk against ``url`` with a Lua ``script``; returns its report (latencies in ms)."""
    exe = wrk_path()
    if exe is None:
        raise RuntimeError("wrk is not installed (bench/ensure-wrk installs it)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
        path = f.name
    try:
        result = subprocess.run(
            [exe, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", f"--timeout={timeout_s:g}s",
             "-s", path, url], capture_output=True, text=True, timeout=seconds + 60, cwd=ROOT, check=False)
    finally:
        Path(path).unlink(missing_ok=True)
    for line in result.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            report = json.loads(line[len("WRK_JSON "):])
            report["rps"] = report["requests"] / report["duration_s"] if report["duration_s"] else 0.0
            return report
    raise RuntimeError(f"wrk gave no report (exit {result.returncode}): {result.stdout[-500:]} {result.stderr[-500:]}")


class HttpError(Exception):
    pass


class RawHttp:
    """Keep-alive HTTP/1.1 connections to one host:port (requests need Content-Length responses)."""

    def __init__(self, host: str, port: int, *, connections: int = 8, timeout: float = 30.0) -> None:
        self.host, self.port, self.size, self.timeout = host, port, connections, timeout
        self._idle: asyncio.Queue = asyncio.Queue()
        self._opened = 0
        self._all: list[asyncio.StreamWriter] = []

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._idle.empty() and self._opened < self.size:
            self._opened += 1
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            except BaseException:
                self._opened -= 1
                raise
            self._all.append(writer)
            return reader, writer
        return await self._idle.get()

    async def request(self, method: str, path: str, body: bytes = b"",
                      headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        raw = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        reader, writer = await self._connection()
        try:
            writer.write(raw)
            status, payload = await asyncio.wait_for(self._response(reader), self.timeout)
        except BaseException:
            writer.close()
            self._opened -= 1
            raise
        self._idle.put_nowait((reader, writer))
        return status, payload

    @staticmethod
    async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value.strip())
            elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
                raise HttpError("chunked responses are not supported")
        return status, (await reader.readexactly(length) if length else b"")

    async def close(self) -> None:
        for writer in self._all:
            writer.close()
        self._all.clear()


async def paced(rate: float, count: int, send, *, concurrency_limit: int = 2000) -> list[Any]:
    """Open loop: call ``send(i)`` at ``rate`` per second regardless of how long each takes
    (a late start is sent at once, never skipped). Returns the results in order."""
    start = time.perf_counter()
    tasks = []
    limit = asyncio.Semaphore(concurrency_limit)

    async def one(i: int):
        async with limit:
            return await send(i)

    for i in range(count):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    return await asyncio.gather(*tasks, return_exceptions=True)


async def closed_loop(count: int, send, *, concurrency: int) -> list[Any]:
    """``concurrency`` workers send requests 0..count-1 as fast as answers come back."""
    results: list[Any] = [None] * count
    next_index = iter(range(count))

    async def worker() -> None:
        for i in next_index:
            try:
                results[i] = await send(i)
            except Exception as exc:  # noqa: BLE001 - reported per request
                results[i] = exc

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results
