"""tickets.missing added to an SQLite board made before it (see board_upgrade.py)."""

from __future__ import annotations

import pytest

from mostrador.platform.db import SqliteDatabase
from tests.service.panel.board_upgrade import check_old_board_upgrades

pytestmark = pytest.mark.service


def test_an_old_sqlite_board_gains_the_missing_column_filled_from_its_states(tmp_path):
    db = SqliteDatabase(str(tmp_path / "panel.db"))
    try:
        check_old_board_upgrades(db)
    finally:
        db.close()
