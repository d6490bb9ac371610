"""The panel's projection writes from concurrent deliveries share transactions (platform/groups.py),
and one that fails in a group fails alone: its neighbours are applied and notified."""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest

from mostrador.panel_api.views import PanelViews
from mostrador.platform.db import SqliteDatabase
from tests.service.panel.panel_rig import ticket_state
from tests.service.platform.group_commit_checks import in_threads

pytestmark = [pytest.mark.service, pytest.mark.timeout(60)]


class CountedTransactions:
    """Counts the database's transactions; the first waits until ``waiting`` writes queue behind it."""

    def __init__(self, views: PanelViews, waiting: int) -> None:
        self.count, real = 0, views.db.transaction

        @contextmanager
        def transaction():
            self.count += 1
            if self.count == 1:
                deadline = time.monotonic() + 10
                while len(views._groups._waiting) < waiting and time.monotonic() < deadline:
                    time.sleep(0.005)
            with real() as tx:
                yield tx

        views.db.transaction = transaction


@pytest.fixture
def views(tmp_path):
    views = PanelViews(SqliteDatabase(str(tmp_path / "panel.db")))
    yield views
    views.db.close()


def numbers(views):
    return sorted(r["number"] for r in views.db.all("SELECT number FROM tickets"))


def test_writes_waiting_for_a_commit_share_the_next_transaction(views):
    notified = []
    views.listeners.append(notified.append)
    counted = CountedTransactions(views, waiting=4)
    results = in_threads(*[lambda n=n: views.apply_ticket(ticket_state(n)) for n in range(1, 6)])
    assert results == [True] * 5
    assert counted.count == 2  # the first alone, the four that waited together
    assert numbers(views) == [1, 2, 3, 4, 5]
    assert sorted(c["number"] for c in notified) == [1, 2, 3, 4, 5]  # each notified, after its commit


def test_a_write_failing_in_a_group_fails_alone(views, monkeypatch):
    notified = []
    views.listeners.append(notified.append)
    real = views._upsert_ticket

    def upsert(tx, ticket):
        if ticket.number == 3:
            raise ValueError("a broken row")
        return real(tx, ticket)

    monkeypatch.setattr(views, "_upsert_ticket", upsert)
    counted = CountedTransactions(views, waiting=3)
    results = in_threads(*[lambda n=n: views.apply_ticket(ticket_state(n)) for n in (1, 2, 3, 4)])
    assert isinstance(results[2], ValueError)
    assert [r for i, r in enumerate(results) if i != 2] == [True] * 3
    assert counted.count >= 3  # the group failed, then each of its writes went on its own
    assert numbers(views) == [1, 2, 4]
    assert sorted(c["number"] for c in notified) == [1, 2, 4]
