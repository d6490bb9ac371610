"""panel-api as several processes on one PostgreSQL schema (WORKERS, or replicas).

The bus hands each event to one process, but an operator's live stream may be held by any: the
change must reach every process's streams (PostgreSQL NOTIFY, panel_api/changes.py). Several
processes also start at once: migrations and the first admin must not race."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time

import httpx
import psycopg
import pytest

from deploy.distributed import ROOT, Cluster
from mostrador.events.memory import InMemoryBus
from mostrador.panel_api.changes import APPLICATION_NAME
from mostrador.panel_api.service import build
from mostrador.platform.http import create_app, start_all, stop_all
from mostrador.platform.service import Context
from mostrador.platform.settings import Settings
from tests.contract.conftest import _delete_namespace
from tests.e2e.harness import free_port
from tests.integration.worker_processes import start_with_workers
from tests.service.panel.panel_rig import ADMIN, ADMIN_PW, CATALOG, ticket_state
from tests.service.panel.test_panel_stream import Events, http_server, logged_in

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@contextlib.asynccontextmanager
async def panel_process(database_url: str, schema: str):
    """One panel-api as its own composition root (own bus, pool and listener), like one worker."""
    from pydantic import SecretStr
    settings = Settings(database_url=database_url, db_schema=schema, admin_username=ADMIN,
                        admin_password=SecretStr(ADMIN_PW))
    bus = InMemoryBus()
    service = build(Context(settings=settings, bus=bus, extras={"panel_catalog": CATALOG, "panel_sse_ping": 0.2,
                                                                  "panel_sse_recheck": 0.2}))
    app = create_app("panel-test", bus, [service], manage_lifecycle=False)
    await start_all(bus, [service])
    try:
        yield service, app
    finally:
        await stop_all(bus, [service])


def numbers(pushes: list[dict]) -> set[int]:
    return {t["number"] for push in pushes for t in push["tickets"]}


async def test_a_change_applied_by_one_process_reaches_the_streams_of_every_process(database_url, pg_schema):
    async with panel_process(database_url, pg_schema) as (a, a_app), \
            panel_process(database_url, pg_schema) as (b, b_app), \
            http_server(a_app) as a_base, http_server(b_app) as b_base:
        on_a, on_b = await logged_in(a_base, ADMIN, ADMIN_PW), await logged_in(b_base, ADMIN, ADMIN_PW)
        async with on_a.stream("GET", "/api/stream") as a_resp, on_b.stream("GET", "/api/stream") as b_resp:
            a_events, b_events = Events(a_resp), Events(b_resp)
            assert (await a_events.next())[0] == "ready"
            assert (await b_events.next())[0] == "ready"
            a.parts["views"].apply_ticket(ticket_state(41, phone="5491100000041"))  # the bus gave it to A
            b.parts["views"].apply_ticket(ticket_state(42, phone="5491100000042"))  # ... and this one to B
            for events in (a_events, b_events):
                assert numbers(await events.changes_until(lambda s: numbers(s) >= {41, 42})) == {41, 42}
        await on_a.aclose()
        await on_b.aclose()


async def test_a_listener_that_lost_its_connection_makes_its_streams_reload_and_listens_again(
        database_url, pg_schema):
    async with panel_process(database_url, pg_schema) as (service, app), http_server(app) as base:
        client = await logged_in(base, ADMIN, ADMIN_PW)
        async with client.stream("GET", "/api/stream") as response:
            events = Events(response)
            assert (await events.next())[0] == "ready"
            with psycopg.connect(database_url, autocommit=True) as conn:
                killed = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                      "WHERE application_name = %s", (APPLICATION_NAME,)).fetchall()
            assert killed
            assert await events.next(timeout=10) == ("reset", {})  # changes may have gone by unheard
            service.parts["views"].apply_ticket(ticket_state(43, phone="5491100000043"))
            assert numbers(await events.changes_until(lambda s: 43 in numbers(s), timeout=5)) == {43}
        await client.aclose()


def test_workers_2_serves_one_port_from_two_processes_that_made_one_first_admin(
        database_url, amqp_url, pg_schema, bus_namespace, tmp_path):
    port = free_port()
    cluster = Cluster(env={"DATABASE_URL": database_url, "AMQP_URL": amqp_url, "BUS_NAMESPACE": bus_namespace,
                           "WORKERS": "2", "LOG_FORMAT": "json", "BUS_TOPOLOGY_SETTLE_SECONDS": "0"},
                      ports={"panel-api": port, "ingest": free_port()}, log_dir=tmp_path)
    env = {**cluster.service_env("panel-api"), "DB_SCHEMA": pg_schema}
    env.pop("ADMIN_USERNAME", None)
    env.pop("ADMIN_PASSWORD", None)  # the first start makes `admin` with a generated password
    process = start_with_workers("mostrador.panel_api", env, port, tmp_path / "out.log")
    try:
        time.sleep(1.0)  # both workers past their start-up, so both had their chance to make an admin
        output = (tmp_path / "out.log").read_text()
        passwords = re.findall(r"password: (\S+)", output)
        assert len(passwords) == 1, output  # one worker made the admin and showed its password, once
        assert "Traceback" not in output and '"level": "error"' not in output, output  # the other did not crash
        with psycopg.connect(database_url) as conn:
            assert conn.execute(f'SELECT count(*) FROM "{pg_schema}".users').fetchone()[0] == 1
        for _ in range(6):  # fresh connections: whichever worker accepts, the session is shared
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                login = client.post("/api/auth/login", json={"username": "admin", "password": passwords[0]})
                assert login.status_code == 200
                token = login.json()["access_token"]
                assert client.get("/api/tickets", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(30) == 0
        finally:
            process.kill()
            asyncio.run(_delete_namespace(amqp_url, bus_namespace))  # quorum queues pile up on a shared broker


def test_workers_is_refused_by_a_service_that_must_run_alone(database_url, amqp_url, bus_namespace):
    env = {**os.environ, "DATABASE_URL": database_url, "AMQP_URL": amqp_url, "BUS_NAMESPACE": bus_namespace,
           "WORKERS": "2", "PORT": str(free_port())}
    done = subprocess.run([sys.executable, "-m", "mostrador.tickets"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0
    assert "WORKERS=2: this service runs as one process" in done.stderr
