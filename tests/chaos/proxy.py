"""A tiny TCP proxy for network faults on loopback (no toxiproxy here): a service's AMQP_URL points at
it, and the test cuts, blackholes or restores the link between that service and the broker.

- ``cut()``: reset every open connection and refuse new ones (a hard partition the client sees at once);
- ``blackhole()``: keep connections open but stop forwarding bytes (packets silently dropped; the peers
  only notice through timeouts/heartbeats). New connections are accepted and then hang;
- ``restore()``: forward again (held bytes flow on; TCP would retransmit them after a real partition).
It runs its own event loop in a daemon thread, so a synchronous or an asyncio test can drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Self


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.mode = "open"  # open | cut | blackhole
        self.port = 0
        self.connections = 0  # accepted so far (reconnects show up here)
        self._flowing = None  # asyncio.Event, set while bytes may flow
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="tcp-proxy")

    def __enter__(self) -> Self:
        self._thread.start()
        self._started.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self._call(self._close_all)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._flowing = asyncio.Event()
        self._flowing.set()
        server = self._loop.run_until_complete(asyncio.start_server(self._accept, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._started.set()
        self._loop.run_forever()
        server.close()

    def _call(self, fn) -> None:
        asyncio.run_coroutine_threadsafe(fn(), self._loop).result(10)

    # -- faults --------------------------------------------------------------------------------------
    def cut(self) -> None:
        async def go():
            self.mode = "cut"
            await self._close_all()
        self._call(go)

    def blackhole(self) -> None:
        async def go():
            self.mode = "blackhole"
            self._flowing.clear()
        self._call(go)

    def restore(self) -> None:
        async def go():
            self.mode = "open"
            self._flowing.set()
        self._call(go)

    async def _close_all(self) -> None:
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()  # RST, like a dropped link noticed at once
        self._writers.clear()

    # -- forwarding ----------------------------------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "cut":
            writer.transport.abort()
            return
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True)
        for w in (writer, up_writer):
            self._writers.discard(w)
            with contextlib.suppress(Exception):
                w.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self._flowing.wait()  # blackhole: hold the bytes (the sender's window fills up)
                if writer.transport.is_closing():
                    break
                writer.write(data)
                await writer.drain()
        finally:
            with contextlib.suppress(Exception):
                writer.transport.abort()
