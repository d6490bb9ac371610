"""Group commit, for any store: writes that arrive while another is committing share the next
transaction.

Much of a write's cost is per transaction, not per row (a connection, the round trips, the commit).
So a thread that finds a commit in progress waits, and the next one to commit takes every write
waiting — up to ``limit``, none claiming what another in the group claims (say, one aggregate). Alone,
a write commits at once: nothing waits when there is nothing to share. A group that fails is run
again write by write, each by its own thread, so every write ends exactly as it would have alone: one
write's conflict or repeat is its own error, not its neighbours'.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class _Write(Generic[Item, Result]):
    PENDING, DONE, ALONE = "pending", "done", "alone"

    def __init__(self, item: Item, claims: set[Hashable]) -> None:
        self.item, self.claims = item, claims
        self.state = self.PENDING
        self.result: Result | None = None
        self.error: BaseException | None = None


class Groups(Generic[Item, Result]):
    """``run(item)``: ``run_one(item)``, or ``run_many([...])`` together with others waiting (one
    transaction, a result per item in order)."""

    def __init__(self, run_one: Callable[[Item], Result], run_many: Callable[[list[Item]], list[Result]], *,
                 claims: Callable[[Item], set[Hashable]], limit: int) -> None:
        self.run_one, self.run_many, self.claims, self.limit = run_one, run_many, claims, limit
        self._turn = threading.Condition()
        self._waiting: list[_Write] = []
        self._committing = False

    def run(self, item: Item) -> Result:
        mine: _Write = _Write(item, self.claims(item))
        group: list[_Write] = []
        with self._turn:
            self._waiting.append(mine)
            while self._committing and mine.state == _Write.PENDING:
                self._turn.wait()
            if mine.state == _Write.PENDING:  # our turn to commit, for ourselves and whoever waits
                self._committing = True
                group = self._take(mine)
        if group:
            try:
                self._commit(group)
            finally:
                with self._turn:
                    self._committing = False
                    self._turn.notify_all()
        if mine.state == _Write.ALONE:
            return self.run_one(item)
        if mine.error is not None:
            raise mine.error
        return mine.result  # type: ignore[return-value]

    def _take(self, first: _Write) -> list[_Write]:
        """``first`` and the waiting writes that claim nothing already claimed, oldest first."""
        group, claimed = [first], set(first.claims)
        for write in self._waiting:
            if len(group) >= self.limit:
                break
            if write is not first and not (write.claims & claimed):
                group.append(write)
                claimed |= write.claims
        taken = set(map(id, group))
        self._waiting = [w for w in self._waiting if id(w) not in taken]
        return group

    def _commit(self, group: list[_Write]) -> None:
        if len(group) == 1:
            try:
                group[0].result = self.run_one(group[0].item)
            except BaseException as exc:  # the owner raises it
                group[0].error = exc
            group[0].state = _Write.DONE
            return
        try:
            results = self.run_many([w.item for w in group])
        except Exception:
            for write in group:  # each on its own, to find out whose fault it was
                write.state = _Write.ALONE
            return
        for write, result in zip(group, results, strict=True):
            write.result, write.state = result, _Write.DONE
