"""e2e fixtures: the embedded system on a real port, and the distributed system as processes."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.e2e.harness import ADMIN, APP_SECRET, ServerThread, free_port


def embedded_settings(tmp_path, **overrides):
    from mostrador.platform.settings import Settings
    # database_url/amqp_url None: the embedded mode under test is SQLite + the in-memory bus, even when
    # the environment exports DATABASE_URL/AMQP_URL for the other tiers.
    values = dict(database_url=None, amqp_url=None, data_dir=tmp_path / "var", port=free_port(),
                  whatsapp_app_secret=APP_SECRET,
                  admin_username=ADMIN[0], admin_password=ADMIN[1], log_format="console", log_level="WARNING",
                  scheduler_poll_seconds=0.2)
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def embedded(tmp_path):
    """The whole system in one process (`make run`), served on a free port."""
    from deploy.embedded import build_embedded

    def start(**overrides):
        settings = embedded_settings(tmp_path, **overrides)
        system = build_embedded(settings)
        return ServerThread(system.app, settings.port), system

    return start


@pytest.fixture
def distributed(database_url, amqp_url, tmp_path):
    """Every service as its own OS process on PostgreSQL + RabbitMQ, isolated by schema and namespace."""
    from deploy.distributed import Cluster
    prefix = f"e2e_{uuid.uuid4().hex[:8]}_"
    namespace = f"e2e-{uuid.uuid4().hex[:8]}"
    clusters = []

    def start(**env):
        ports = {name: free_port() for name in ("panel-api", "ingest", "tickets", "bot", "chat", "scheduler")}
        base_env = {"DATABASE_URL": database_url, "AMQP_URL": amqp_url, "BUS_NAMESPACE": namespace,
                    "WHATSAPP_APP_SECRET": APP_SECRET, "ADMIN_USERNAME": ADMIN[0], "ADMIN_PASSWORD": ADMIN[1],
                    "LOG_FORMAT": "json", "SCHEDULER_POLL_SECONDS": "0.2",
                    "BUS_TOPOLOGY_SETTLE_SECONDS": "1"}  # a fresh namespace per test: settle it quickly
        base_env.update({k: str(v) for k, v in env.items()})
        cluster = Cluster(env=base_env, ports=ports, schema_prefix=prefix, fake_graph_port=free_port(),
                          log_dir=tmp_path / "logs")
        clusters.append(cluster)
        cluster.start()
        try:
            cluster.wait_ready(timeout=90)
        except Exception:
            cluster.stop()
            for log in sorted((tmp_path / "logs").glob("*.log")):
                print(f"==== {log.name}\n{log.read_text()[-3000:]}")
            raise
        return cluster

    yield start
    for cluster in clusters:
        cluster.stop()
    import psycopg
    with psycopg.connect(database_url, autocommit=True) as conn:
        for (schema,) in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (prefix + "%",)):
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    import asyncio
    from tests.contract.conftest import _delete_namespace
    asyncio.run(_delete_namespace(amqp_url, namespace))


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
