"""SqliteDatabase: transaction() is all or nothing; autocommit() reads without the write lock that
transaction()'s BEGIN IMMEDIATE takes, and commits each statement on its own."""

from __future__ import annotations

import threading

import pytest

from mostrador.platform.db import SqliteDatabase


@pytest.fixture
def db(tmp_path):
    database = SqliteDatabase(str(tmp_path / "t.sqlite"))
    database.migrate(["CREATE TABLE IF NOT EXISTS t (x INTEGER)"])
    yield database
    database.close()


def test_a_read_does_not_wait_for_a_writer(db):
    writing, release = threading.Event(), threading.Event()

    def writer() -> None:
        with db.transaction() as tx:
            tx.execute("INSERT INTO t VALUES (1)")
            writing.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert writing.wait(5)
        read = {}
        reader = threading.Thread(target=lambda: read.update(row=db.one("SELECT count(*) AS n FROM t")))
        reader.start()
        reader.join(2)  # with BEGIN IMMEDIATE it would wait for the writer (up to the 30 s busy timeout)
        assert not reader.is_alive(), "a read waited for the write lock"
        assert read["row"] == {"n": 0}  # the uncommitted insert is not seen
    finally:
        release.set()
        thread.join(10)
    assert db.one("SELECT count(*) AS n FROM t") == {"n": 1}


def test_autocommit_commits_each_statement_and_a_failed_transaction_leaves_nothing(db, tmp_path):
    with db.autocommit() as tx:
        tx.execute("INSERT INTO t VALUES (1)")
        other = SqliteDatabase(str(tmp_path / "t.sqlite"))
        try:  # another connection sees it before the block ends: the statement was its own transaction
            assert other.one("SELECT count(*) AS n FROM t") == {"n": 1}
        finally:
            other.close()
    with pytest.raises(RuntimeError), db.transaction() as tx:
        tx.execute("INSERT INTO t VALUES (2)")
        raise RuntimeError("boom")
    assert db.all("SELECT x FROM t") == [{"x": 1}]
