"""The service tier is one service on the in-memory bus and SQLite, whatever the environment says:
CI exports DATABASE_URL / AMQP_URL for the integration and e2e tiers, and a Settings() built here would
otherwise read them — panel tests then shared one PostgreSQL schema, and one test's failed logins
locked the next test out."""

from __future__ import annotations

import pytest

INFRASTRUCTURE = ("DATABASE_URL", "AMQP_URL", "DB_SCHEMA")


@pytest.fixture(autouse=True)
def _no_infrastructure_from_the_environment(monkeypatch):
    for name in INFRASTRUCTURE:
        monkeypatch.delenv(name, raising=False)
