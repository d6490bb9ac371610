"""Group commit on SQLite (see group_commit_checks.py)."""

from __future__ import annotations

import pytest

from mostrador.platform.esapp import eventsourcing_env
from tests.service.platform import group_commit_checks as checks

pytestmark = [pytest.mark.service, pytest.mark.timeout(60)]


@pytest.fixture
def env(tmp_path):
    return eventsourcing_env(database_url=None, sqlite_path=str(tmp_path / "items.db"), schema="items")


def test_saves_waiting_for_a_commit_share_the_next_transaction(env):
    checks.check_waiting_saves_share_one_transaction(env)


def test_a_repeated_message_in_a_group_fails_alone_and_its_neighbours_are_saved(env):
    checks.check_a_repeat_in_a_group_fails_alone(env)


def test_two_changes_of_one_aggregate_never_share_a_transaction(env):
    checks.check_one_aggregate_is_never_twice_in_a_group(env)


def test_a_group_of_one_is_each_save_on_its_own(env):
    from tests.service.platform.group_commit_checks import ItemsApp

    app = ItemsApp(env={**env, "GROUP_COMMIT": "1"})
    try:
        assert app._group is None
    finally:
        app.close()
