"""Group commit on PostgreSQL: the further tracking rows go in one statement (groupcommit.py)."""

from __future__ import annotations

import pytest

from mostrador.platform.esapp import eventsourcing_env
from tests.service.platform.group_commit_checks import CHECKS

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
def test_group_commit_on_postgres(database_url, pg_schema, check):
    check(eventsourcing_env(database_url=database_url, sqlite_path=None, schema=pg_schema, pool_size=4))
