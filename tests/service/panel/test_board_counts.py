"""The board's capped count on SQLite (see board_counts.py)."""

from __future__ import annotations

import pytest

from mostrador.platform.db import SqliteDatabase
from tests.service.panel.board_counts import check_board_counts

pytestmark = pytest.mark.service


def test_sqlite_board_counts_with_the_first_page_and_carries_the_count(tmp_path, monkeypatch):
    db = SqliteDatabase(str(tmp_path / "panel.db"))
    try:
        check_board_counts(db, monkeypatch)
    finally:
        db.close()
