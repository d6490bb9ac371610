"""The fault script and the measurements around it: each fault, then how long until every service
answers /readyz again on its own (the supervisor only restarts dead processes; the broker and PostgreSQL
are brought back the way their own supervisors would: start the server again)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.chaos import infra
from tests.chaos.cluster import ChaosCluster
from tests.chaos.proxy import TcpProxy


@dataclass
class FaultRecord:
    name: str
    started: float  # wall clock
    lifted: float | None = None  # wall clock when the fault was over: the broker or PostgreSQL answering again,
    # the network restored; for a killed service, the kill itself (its restart is ours to make fast)
    recovered: float | None = None  # wall clock when every service answered /readyz 200 again
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def recovery_seconds(self) -> float | None:
        """From the fault lifted to every service ready: the part the services own. RabbitMQ's own boot
        takes 10–16 s here and 52 s on a loaded CI box; bounding that would test the machine."""
        if self.recovered is None:
            return None
        return round(self.recovered - (self.lifted or self.started), 2)

    @property
    def outage_seconds(self) -> float | None:
        return None if self.recovered is None else round(self.recovered - self.started, 2)


async def all_ready(client: httpx.AsyncClient, cluster: ChaosCluster) -> bool:
    async def one(port: int) -> bool:
        try:
            return (await client.get(f"http://127.0.0.1:{port}/readyz", timeout=1.0)).status_code == 200
        except httpx.HTTPError:
            return False
    return all(await asyncio.gather(*(one(p) for p in cluster.ports.values())))


async def wait_recovered(client: httpx.AsyncClient, cluster: ChaosCluster, record: FaultRecord,
                         limit: float = 60.0, stable: float = 0.0) -> None:
    """Poll every service's /readyz until all answer 200 (for ``stable`` seconds in a row)."""
    deadline = time.time() + limit
    ok_since = None
    while time.time() < deadline:
        if await all_ready(client, cluster):
            ok_since = ok_since or time.time()
            if time.time() - ok_since >= stable:
                record.recovered = ok_since
                return
        else:
            ok_since = None
        await asyncio.sleep(0.1)


async def saw_unready(client: httpx.AsyncClient, cluster: ChaosCluster, service: str, within: float) -> bool:
    deadline = time.time() + within
    while time.time() < deadline:
        try:
            if (await client.get(f"{cluster.url(service)}/readyz", timeout=0.5)).status_code != 200:
                return True
        except httpx.HTTPError:
            return True
        await asyncio.sleep(0.05)
    return False


class FaultScript:
    def __init__(self, cluster: ChaosCluster, proxy: TcpProxy, proxied: str) -> None:
        self.cluster, self.proxy, self.proxied = cluster, proxy, proxied
        self.records: list[FaultRecord] = []

    async def kill(self, client: httpx.AsyncClient, service: str) -> FaultRecord:
        """SIGKILL a service mid-traffic; the supervisor restarts it."""
        process = self.cluster.processes[service]
        record = FaultRecord(f"SIGKILL {service}", time.time(), detail={"pid": process.pid})
        os.kill(process.pid, signal.SIGKILL)
        await asyncio.sleep(0.5)  # the supervisor notices and starts a new process
        await wait_recovered(client, self.cluster, record)
        return record

    async def broker(self, client: httpx.AsyncClient) -> FaultRecord:
        record = FaultRecord("SIGKILL RabbitMQ + restart", time.time())
        record.detail["pid"] = await asyncio.to_thread(infra.kill_broker)
        await asyncio.sleep(0.5)
        record.detail["broker_boot_s"] = round(await asyncio.to_thread(infra.start_broker), 2)
        record.lifted = time.time()
        await wait_recovered(client, self.cluster, record, stable=1.0)
        return record

    async def postgres(self, client: httpx.AsyncClient) -> FaultRecord:
        record = FaultRecord("PostgreSQL stop -m immediate + start", time.time())
        record.detail["pg_down_s"] = round(await asyncio.to_thread(infra.restart_postgres), 2)
        record.lifted = time.time()
        await wait_recovered(client, self.cluster, record, stable=1.0)
        return record

    async def partition(self, client: httpx.AsyncClient, how: str, seconds: float) -> FaultRecord:
        record = FaultRecord(f"{how} {self.proxied}<->RabbitMQ for {seconds:g}s", time.time())
        await asyncio.to_thread(getattr(self.proxy, how))
        record.detail["noticed_unready"] = await saw_unready(client, self.cluster, self.proxied, seconds)
        await asyncio.to_thread(self.proxy.restore)
        record.lifted = time.time()
        record.detail["reconnects"] = self.proxy.connections
        await wait_recovered(client, self.cluster, record, stable=1.0)
        return record

    async def run(self, steps: list[tuple[str, ...]], pause: float) -> list[FaultRecord]:
        """Each step in turn, ``pause`` seconds of normal traffic after each recovery."""
        async with httpx.AsyncClient() as client:
            for step in steps:
                kind, *args = step
                if kind == "kill":
                    record = await self.kill(client, args[0])
                elif kind == "broker":
                    record = await self.broker(client)
                elif kind == "postgres":
                    record = await self.postgres(client)
                else:
                    record = await self.partition(client, kind, float(args[0]))
                self.records.append(record)
                await asyncio.sleep(pause)
        return self.records
