"""Shared fixtures. Infrastructure comes from DATABASE_URL / AMQP_URL when set, else from
testcontainers when a Docker engine answers, else the test is skipped with the reason — except
with CI=true, where a missing service fails the run (the integration and e2e tiers must run)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIERS = ("unit", "service", "contract", "integration", "e2e")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(config, items):
    """Each test's tier is the folder it lives in (tests/<tier>/…)."""
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT / "tests").parts
        if parts and parts[0] in TIERS:
            item.add_marker(getattr(pytest.mark, parts[0]))


def _unavailable(what: str) -> None:
    message = f"no {what} and no Docker engine for testcontainers"
    if IN_CI:
        pytest.fail(f"{message} — CI must run this tier (.ci/run exports DATABASE_URL and AMQP_URL)")
    pytest.skip(message)


def _docker_engine() -> bool:
    try:
        import docker  # testcontainers depends on it
        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def database_url():
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    if not _docker_engine():
        _unavailable("DATABASE_URL")
    from testcontainers.community.postgres import PostgresContainer
    with PostgresContainer("postgres:16-alpine", driver=None) as pg:
        yield pg.get_connection_url()


@pytest.fixture(scope="session")
def amqp_url():
    if url := os.environ.get("AMQP_URL"):
        yield url
        return
    if not _docker_engine():
        _unavailable("AMQP_URL")
    from testcontainers.community.rabbitmq import RabbitMqContainer
    with RabbitMqContainer("rabbitmq:3.13-alpine") as rabbit:
        params = rabbit.get_connection_params()
        yield f"amqp://guest:guest@{params.host}:{params.port}/"


@pytest.fixture
def pg_schema(database_url):
    """A fresh PostgreSQL schema for one test, dropped afterwards."""
    import psycopg
    name = f"t_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def bus_namespace():
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def whatsapp_fixture():
    """Read one of the Meta-shaped webhook fixtures (tests/fixtures/whatsapp/*.json) as bytes."""
    folder = ROOT / "tests" / "fixtures" / "whatsapp"

    def read(name: str) -> bytes:
        return (folder / name).read_bytes()

    return read
