"""Group commit on PostgreSQL: the further tracking rows go in one statement (groupcommit.py)."""

from __future__ import annotations

import pytest

from mostrador.platform.esapp import eventsourcing_env
from tests.service.platform import group_commit_checks as checks

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def env(database_url, pg_schema):
    return eventsourcing_env(database_url=database_url, sqlite_path=None, schema=pg_schema, pool_size=4)


def test_saves_waiting_for_a_commit_share_the_next_transaction(env):
    checks.check_waiting_saves_share_one_transaction(env)


def test_a_repeated_message_in_a_group_fails_alone_and_its_neighbours_are_saved(env):
    checks.check_a_repeat_in_a_group_fails_alone(env)


def test_two_changes_of_one_aggregate_never_share_a_transaction(env):
    checks.check_one_aggregate_is_never_twice_in_a_group(env)
