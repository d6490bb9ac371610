"""Group commit on SQLite (see group_commit_checks.py)."""

from __future__ import annotations

import pytest

from mostrador.platform.esapp import eventsourcing_env
from tests.service.platform.group_commit_checks import CHECKS, ItemsApp

pytestmark = [pytest.mark.service, pytest.mark.timeout(60)]


@pytest.fixture
def env(tmp_path):
    return eventsourcing_env(database_url=None, sqlite_path=str(tmp_path / "items.db"), schema="items")


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
def test_group_commit_on_sqlite(env, check):
    check(env)


def test_a_group_of_one_is_each_save_on_its_own(env):
    app = ItemsApp(env={**env, "GROUP_COMMIT": "1"})
    try:
        assert app._group is None
    finally:
        app.close()
