"""Group commit (platform/groupcommit.py), checked on a real event store: the same checks run on
SQLite (test_group_commit.py) and PostgreSQL (tests/integration/test_group_commit_postgres.py).

Groups are made deterministic by holding the first commit until the others are waiting."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

from mostrador.platform.esapp import AlreadyProcessed, ServiceApplication
from mostrador.platform.groupcommit import MORE_TRACKING, event_store_groups


class Item(Aggregate):
    @event("Made")
    def __init__(self, name: str) -> None:
        self.name, self.touches = name, 0

    @event("Touched")
    def touch(self) -> None:
        self.touches += 1


class ItemsApp(ServiceApplication):
    name = "items"


class HeldFirstCommit:
    """Wraps the group's commits: the first waits until ``waiting`` saves queue behind it. ``calls``
    holds what each commit recorded (one ProcessingEvent: a group's are combined)."""

    def __init__(self, app: ItemsApp, waiting: int) -> None:
        self.app, self.waiting, self.calls = app, waiting, []
        record = app._record

        def held_record(processing: Any) -> Any:
            self.calls.append(processing)
            if len(self.calls) == 1:
                deadline = time.monotonic() + 10
                while len(app._group._waiting) < self.waiting and time.monotonic() < deadline:
                    time.sleep(0.005)
            return record(processing)

        app._group = event_store_groups(held_record, app._group.limit)


def in_threads(*jobs: Callable[[], Any]) -> list[Any]:
    """Run the jobs in threads started in order; each job's result or exception."""
    results: list[Any] = [None] * len(jobs)

    def run(i: int) -> None:
        try:
            results[i] = jobs[i]()
        except Exception as exc:  # the test looks at it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:  # in order: each queues before the next starts
        t.start()
        time.sleep(0.03)
    for t in threads:
        t.join(20)
    return results


def check_waiting_saves_share_one_transaction(env: dict[str, str]) -> None:
    app = ItemsApp(env=env)
    try:
        held = HeldFirstCommit(app, waiting=4)
        items = [Item(f"i{n}") for n in range(5)]
        results = in_threads(*[lambda n=n: app.save_processed(f"m{n}", items[n]) for n in range(5)])
        assert not [r for r in results if isinstance(r, Exception)], results
        assert len(held.calls) == 2  # the first alone, the four that waited together
        assert len(held.calls[1].saved_kwargs[MORE_TRACKING]) == 3
        for n, recordings in enumerate(results):  # each save gets back its own recordings
            assert [r.domain_event.originator_id for r in recordings] == [items[n].id]
        for n in range(5):
            assert app.processed(f"m{n}")
            assert app.latest(items[n].id).name == f"i{n}"
        assert app.recorder.max_notification_id() == 5
    finally:
        app.close()


def check_a_repeat_in_a_group_fails_alone(env: dict[str, str]) -> None:
    app = ItemsApp(env=env)
    try:
        app.save_processed("seen", Item("before"))
        held = HeldFirstCommit(app, waiting=3)
        first, repeat, other, last = Item("a"), Item("repeat"), Item("b"), Item("c")
        # the repeat last in its group: its tracking row is one of the group's further ones
        results = in_threads(lambda: app.save_processed("m1", first), lambda: app.save_processed("m2", other),
                             lambda: app.save_processed("m3", last),
                             lambda: app.save_processed("seen", repeat))
        assert isinstance(results[3], IntegrityError)
        assert [isinstance(r, Exception) for r in results] == [False, False, False, True]
        assert len(held.calls) >= 3  # the group failed, then each of its saves went on its own
        for aggregate in (first, other, last):
            assert app.latest(aggregate.id).name == aggregate.name
        assert [n.originator_id for n in app.recorder.select_notifications(1, 10)].count(repeat.id) == 0
        assert app.recorder.max_notification_id() == 4  # before, a, b, c: nothing of the repeat
    finally:
        app.close()


def check_one_aggregate_is_never_twice_in_a_group(env: dict[str, str]) -> None:
    """Two changes of one aggregate (from two lanes, say) would conflict in one transaction: the
    second waits for the next group, and apply_once's retry sees the first's version."""
    app = ItemsApp(env=env)
    try:
        shared = Item("shared")
        app.save(shared)
        held = HeldFirstCommit(app, waiting=3)

        def touch(key: str) -> Any:
            def command() -> list[Any]:
                item = app.repository.get(shared.id)
                item.touch()
                return [item]
            return app.apply_once(key, command)

        results = in_threads(lambda: app.save_processed("m0", Item("lead")), lambda: touch("t1"),
                             lambda: touch("t2"), lambda: app.save_processed("m3", Item("other")))
        assert not [r for r in results if isinstance(r, Exception)], results
        assert app.latest(shared.id).touches == 2
        for call in held.calls:
            ids = [e.originator_id for e in call.events]
            assert len(ids) == len(set(ids))
        try:  # and each touch was recorded with its own message key
            touch("t1")
            raise AssertionError("t1 applied twice")
        except AlreadyProcessed:
            pass
        assert app.latest(shared.id).touches == 2
    finally:
        app.close()


CHECKS = (check_waiting_saves_share_one_transaction, check_a_repeat_in_a_group_fails_alone,
          check_one_aggregate_is_never_twice_in_a_group)
