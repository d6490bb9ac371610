"""The Ticket: every contact becomes one. Its status is only the fold of its events.

The transition table below is the product's lifecycle (PRODUCT.md): who may move a ticket from
which status to which. Commands check it and compute values (clock readings come in as
arguments); the private @event mutators only apply stored values, because they run again on
every replay.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

INCOMPLETO, COMPLETO, EN_PROCESO = "INCOMPLETO", "COMPLETO", "EN PROCESO"
FACTURADO, CANCELADO, RESUELTO, NO_CONTESTA, VENCIDO = "FACTURADO", "CANCELADO", "RESUELTO", "NO CONTESTA", "VENCIDO"
STATUSES = (INCOMPLETO, COMPLETO, EN_PROCESO, FACTURADO, CANCELADO, RESUELTO, NO_CONTESTA, VENCIDO)
FINAL = frozenset({FACTURADO, CANCELADO, RESUELTO, NO_CONTESTA, VENCIDO})
PEDIDO, AYUDA = "PEDIDO", "AYUDA"

# (from, to) -> the kinds of actor allowed to make that move. Anything else is refused.
TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    (INCOMPLETO, COMPLETO): frozenset({"bot", "system"}),
    (INCOMPLETO, EN_PROCESO): frozenset({"operator"}),  # an operator takes over: the bot stops
    (INCOMPLETO, CANCELADO): frozenset({"bot"}),  # the customer typed "cancelar"
    (COMPLETO, EN_PROCESO): frozenset({"operator"}),
    **{(EN_PROCESO, final): frozenset({"operator"}) for final in (FACTURADO, CANCELADO, RESUELTO, NO_CONTESTA)},
    **{(status, VENCIDO): frozenset({"system"}) for status in (INCOMPLETO, COMPLETO, EN_PROCESO)},
}


class InvalidTransition(Exception):
    def __init__(self, current: str, requested: str, actor_kind: str) -> None:
        self.current, self.requested, self.actor_kind = current, requested, actor_kind
        super().__init__(f"cannot change status from {current} to {requested}"
                         + (" (final status)" if current in FINAL else f" as {actor_kind}"))


class UnknownStatus(ValueError):
    pass


def ticket_id_for(number: int) -> UUID:
    """A ticket's id follows from its number, so the panel's 'ticket 42' needs no index."""
    return uuid5(NAMESPACE_URL, f"/mostrador/tickets/{number}")


class Ticket(Aggregate):
    """One contact with a customer, from its first message to a final status."""

    class Opened(Aggregate.Created):
        number: int
        customer: dict[str, Any]
        opened_at: datetime
        message_id: str

    @event(Opened)
    def __init__(self, number: int, customer: dict[str, Any], opened_at: datetime, message_id: str) -> None:
        self.number, self.customer = number, customer
        self.type = PEDIDO
        self.status = INCOMPLETO
        self.branch: str | None = None
        self.topic: str | None = None
        self.details: dict[str, Any] = {}
        self.missing: list[str] = []
        self.opened_at = self.last_message_at = opened_at
        self.first_message_id = self.last_message_id = message_id
        self.message_count = 0
        self.history: list[dict[str, Any]] = [
            {"from_status": None, "to_status": INCOMPLETO, "at": opened_at, "by": {"kind": "system"}, "reason": None}]

    @classmethod
    def create_id(cls, number: int, **_: Any) -> UUID:
        return ticket_id_for(number)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL

    # -- commands ------------------------------------------------------------------------------

    def attach_message(self, message: dict[str, Any]) -> None:
        """File a customer message here; the event keeps the whole message (the audit trail).
        A late one (older timestamp) does not move 'last message'."""
        self._message_attached(message=message)

    def change_status(self, to: str, *, by: dict[str, Any], at: datetime, reason: str | None = None) -> None:
        if to not in STATUSES:
            raise UnknownStatus(f"unknown status {to!r}; expected one of {', '.join(STATUSES)}")
        kind = by.get("kind", "")
        if kind not in TRANSITIONS.get((self.status, to), frozenset()):
            raise InvalidTransition(self.status, to, kind)
        self._status_changed(from_status=self.status, to_status=to, at=at, by=by, reason=reason)

    def expire(self, now: datetime, after: timedelta) -> bool:
        """VENCIDO if still open ``after`` the first message; a ticket closed in time is left alone."""
        if self.is_final or now < self.opened_at + after:
            return False
        self.change_status(VENCIDO, by={"kind": "system"}, at=now, reason="expired")
        return True

    def update_details(self, *, type: str | None, branch: str | None, topic: str | None,
                       details: dict[str, Any], missing: list[str], by: dict[str, Any], at: datetime) -> bool:
        new = {"type": type or self.type, "branch": branch, "topic": topic, "details": details, "missing": missing}
        old = {"type": self.type, "branch": self.branch, "topic": self.topic, "details": self.details,
               "missing": self.missing}
        if new == old or self.is_final:
            return False
        self._details_changed(**new, by=by, at=at)
        return True

    # -- mutators (stored values only) ---------------------------------------------------------

    @event("MessageAttached")
    def _message_attached(self, message: dict[str, Any]) -> None:
        at, message_id, customer = message["timestamp"], message["message_id"], message["customer"]
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        self.message_count += 1
        if at >= self.last_message_at:
            self.last_message_at, self.last_message_id = at, message_id
        if customer.get("name") and not self.customer.get("name"):
            self.customer = {**self.customer, "name": customer["name"]}

    @event("StatusChanged")
    def _status_changed(self, from_status: str, to_status: str, at: datetime, by: dict[str, Any],
                        reason: str | None) -> None:
        self.status = to_status
        self.history = [*self.history, {"from_status": from_status, "to_status": to_status, "at": at, "by": by,
                                        "reason": reason}]

    @event("DetailsChanged")
    def _details_changed(self, type: str, branch: str | None, topic: str | None, details: dict[str, Any],
                         missing: list[str], by: dict[str, Any], at: datetime) -> None:
        self.type, self.branch, self.topic, self.details, self.missing = type, branch, topic, details, missing


class Customer(Aggregate):
    """Points at the customer's latest ticket: one active ticket per customer."""

    @event("Registered")
    def __init__(self, key: str) -> None:
        self.key = key
        self.latest_ticket: int | None = None

    @classmethod
    def create_id(cls, key: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/mostrador/customers/{key}")

    @event("TicketStarted")
    def start_ticket(self, number: int) -> None:
        self.latest_ticket = number


class TicketNumbers(Aggregate):
    """Issues ticket numbers 1, 2, 3… Saved in the same transaction as the ticket it numbers, so a
    number is never skipped or reused — two writers racing get a conflict and one retries."""

    @event("Started")
    def __init__(self) -> None:
        self.last = 0

    @classmethod
    def create_id(cls) -> UUID:
        return uuid5(NAMESPACE_URL, "/mostrador/ticket-numbers")

    def issue(self) -> int:
        self._issued(number=self.last + 1)
        return self.last

    @event("Issued")
    def _issued(self, number: int) -> None:
        self.last = number
