"""Tickets application: commands over Ticket aggregates. Each runs through ``apply_once`` with the
id of the message that asked for it, so a redelivered message is recognised and changes nothing."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from mostrador.platform.esapp import ServiceApplication
from mostrador.tickets.domainmodel import (CANCELADO, COMPLETO, INCOMPLETO, Customer, Ticket, TicketNumbers,
                                           ticket_id_for)

BOT = {"kind": "bot"}


class TicketNotFound(LookupError):
    pass


class TicketsApp(ServiceApplication):
    name = "tickets"
    snapshotting_intervals = {TicketNumbers: 100}  # type: ignore[dict-item]
    env = {"AGGREGATE_CACHE_MAXSIZE": "2000"}

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        # Every new ticket takes the next number from the one TicketNumbers aggregate. Concurrent
        # handlers opening tickets would all load the same version and all but one fail to save,
        # reload and retry (bench B2: ~40 openings/s); so openings take turns in this process, from
        # loading the numbers to the commit. Other processes still race, caught by the version check.
        self._numbering = threading.Lock()

    def get_ticket(self, number: int) -> Ticket:
        try:
            return self.repository.get(ticket_id_for(number))
        except AggregateNotFoundError:
            raise TicketNotFound(f"ticket {number} not found") from None

    def _get_or_none(self, cls, aggregate_id):
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def receive_message(self, *, key: str, message: dict[str, Any]) -> int:
        """File a customer message under their active ticket, opening a new one (next number) when
        they have none or their latest is final. Returns the ticket number."""
        result: dict[str, int] = {}
        customer, message_id = message["customer"], message["message_id"]
        at = datetime.fromisoformat(message["timestamp"]) if isinstance(message["timestamp"], str) else message["timestamp"]
        numbering = False

        def command():
            nonlocal numbering
            person = self._get_or_none(Customer, Customer.create_id(customer["key"])) or Customer(customer["key"])
            current = self.get_ticket(person.latest_ticket) if person.latest_ticket else None
            if current is not None and not current.is_final:
                current.attach_message(message)
                result["number"] = current.number
                return [current]
            if not numbering:  # held until saved: see _numbering
                self._numbering.acquire()
                numbering = True
            numbers = self._get_or_none(TicketNumbers, TicketNumbers.create_id()) or TicketNumbers()
            ticket = Ticket(numbers.issue(), customer, at, message_id)
            ticket.attach_message(message)
            person.start_ticket(ticket.number)
            result["number"] = ticket.number
            return [numbers, ticket, person]

        try:
            self.apply_once(key, command)
        finally:
            if numbering:
                self._numbering.release()
        return result["number"]

    def change_status(self, *, key: str, number: int, to: str, by: dict[str, Any], at: datetime,
                      reason: str | None = None) -> Ticket:
        def command():
            ticket = self.get_ticket(number)
            ticket.change_status(to, by=by, at=at, reason=reason)
            return [ticket]

        self.apply_once(key, command)
        return self.get_ticket(number)

    def update_details(self, *, key: str, number: int, fields: dict[str, Any], by: dict[str, Any], at: datetime,
                       complete: bool = False) -> None:
        """Intake progress from the bot; ``complete`` also moves an INCOMPLETO ticket to COMPLETO."""
        def command():
            ticket = self.get_ticket(number)
            ticket.update_details(**fields, by=by, at=at)
            if complete and ticket.status == INCOMPLETO:
                ticket.change_status(COMPLETO, by=by, at=at, reason="intake completed")
            return [ticket]

        self.apply_once(key, command)

    def cancel_by_bot(self, *, key: str, number: int, at: datetime, reason: str | None) -> None:
        def command():
            ticket = self.get_ticket(number)
            if ticket.status == INCOMPLETO:
                ticket.change_status(CANCELADO, by=BOT, at=at, reason=reason or "cancelled by the customer")
            return [ticket]

        self.apply_once(key, command)

    def expire(self, *, key: str, number: int, now: datetime, after: timedelta) -> bool:
        expired: dict[str, bool] = {}

        def command():
            ticket = self.get_ticket(number)
            expired["done"] = ticket.expire(now, after)
            return [ticket]

        self.apply_once(key, command)
        return expired.get("done", False)
