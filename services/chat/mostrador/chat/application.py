"""Chat application: every change to a conversation runs through ``apply_once`` with the id of what
asked for it (an event id, a command id, "<message>/attempt/<n>"), so a redelivery changes nothing.

Ticket numbers are looked up through ``TicketIndex`` aggregates (uuid5 of the number), created in the
same transaction as the conversation change that first hears of the ticket — from any tickets.* event,
so it does not matter which one arrives first.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from mostrador.chat.domainmodel import Conversation, Refused, TicketIndex, conversation_id, ticket_index_id
from mostrador.platform.esapp import AlreadyProcessed, ServiceApplication

Change = Callable[[Conversation], Any]


class ChatApp(ServiceApplication):
    name = "chat"
    snapshotting_intervals = {Conversation: 50}  # type: ignore[dict-item]
    env = {"AGGREGATE_CACHE_MAXSIZE": "1000"}  # see service.py: memory

    def __init__(self, env: dict[str, str] | None = None, *, window_hours: float = 24.0) -> None:
        super().__init__(env)
        self.window_hours = window_hours
        # Ticket numbers known to be indexed. A TicketIndex is never removed, so once seen it need not
        # be looked up again: every tickets.* event used to cost a read for it (bench B2).
        self._indexed: set[int] = set()

    # -- reads ---------------------------------------------------------------------------------

    def conversation(self, customer_key: str, *, latest: bool = False) -> Conversation | None:
        """``latest``: as stored now, past the cache (esapp.ServiceApplication.latest)."""
        try:
            cid = conversation_id(customer_key)
            return self.latest(cid) if latest else self.repository.get(cid)
        except AggregateNotFoundError:
            return None

    def ticket_index(self, number: int) -> TicketIndex | None:
        try:
            return self.repository.get(ticket_index_id(number))
        except AggregateNotFoundError:
            return None

    def by_number(self, number: int) -> tuple[TicketIndex, Conversation]:
        index = self.ticket_index(number)
        conv = self.conversation(index.customer_key) if index else None
        if index is None or conv is None:
            raise Refused("not_found", f"ticket {number} not found", 404)
        return index, conv

    # -- the one write path --------------------------------------------------------------------

    def change(self, key: str, customer: dict[str, Any], change: Change, *, create: bool = True,
               ticket: dict[str, Any] | None = None) -> Conversation | None:
        """Load (or start) the customer's conversation, run ``change`` on it and save it, once per ``key``.
        ``ticket`` (id, number…) is indexed by number in the same transaction if it is new to us.
        Returns the conversation after the change (None if there was none and ``create`` is False)."""
        holder: dict[str, Conversation | None] = {"conv": None}

        def command() -> list[Any]:
            conv = self.conversation(customer["key"])
            if conv is None and not create:
                return []
            conv = conv or Conversation(customer)
            change(conv)
            holder["conv"] = conv
            extras: list[Any] = []
            if ticket is not None and not self._is_indexed(ticket["number"]):
                extras.append(TicketIndex(ticket["number"], customer["key"], ticket.get("ticket_id")))
            return [conv, *extras]

        self.apply_once(key, command)
        if ticket is not None and holder["conv"] is not None:
            self._indexed.add(ticket["number"])  # saved with the change (or found saved)
        return holder["conv"]

    def _is_indexed(self, number: int) -> bool:
        if number in self._indexed:
            return True
        if self.ticket_index(number) is None:
            return False
        if len(self._indexed) >= 100_000:
            self._indexed.clear()
        self._indexed.add(number)
        return True

    def command(self, command_id: str, number: int, change: Callable[[Conversation, TicketIndex], Any]) -> Conversation:
        """A panel command on ticket ``number``'s conversation; a repeated command_id changes nothing."""
        index, conv = self.by_number(number)
        try:
            return self.change(command_id, {"key": index.customer_key}, lambda c: change(c, index),
                               create=False) or conv
        except AlreadyProcessed:
            return self.by_number(number)[1]

    # -- commands from the panel ---------------------------------------------------------------

    def send_text(self, command_id: str, number: int, text: str, by: dict[str, Any], now: datetime) -> Conversation:
        return self.command(command_id, number, lambda c, i: c.send_text(
            command_id, text, by=by, at=now, number=number, ticket_id=i.ticket_id, hours=self.window_hours))

    def resume(self, command_id: str, number: int, template_for: Callable[[str], dict[str, Any]],
               by: dict[str, Any], now: datetime) -> Conversation:
        return self.command(command_id, number, lambda c, i: c.resume(
            command_id, template_for(customer_name(c)), by=by, at=now, number=number, ticket_id=i.ticket_id,
            hours=self.window_hours))

    def retry(self, command_id: str, number: int, message_id: str, by: dict[str, Any], now: datetime) -> Conversation:
        return self.command(command_id, number, lambda c, i: c.retry(message_id, by=by, at=now,
                                                                      hours=self.window_hours))

    def mark_read(self, command_id: str, number: int, by: dict[str, Any],
                  now: datetime) -> tuple[Conversation, str | None]:
        """Returns the conversation and the customer message to mark read at WhatsApp (None if nothing new)."""
        marked: dict[str, str | None] = {}

        def change(conv: Conversation, _: TicketIndex) -> None:
            if conv.mark_read(by, now):
                marked["wamid"] = conv.last_inbound_wamid

        return self.command(command_id, number, change), marked.get("wamid")

    # -- the sender's bookkeeping --------------------------------------------------------------

    def start_attempt(self, customer_key: str, message_id: str, attempt: int, now: datetime) -> bool:
        """Record attempt ``attempt`` before the HTTP call. False if someone else already recorded it
        (then they are the one sending it)."""
        def change(conv: Conversation) -> None:
            if conv.messages[message_id]["attempts"] != attempt - 1:
                raise AlreadyProcessed(f"{message_id}/attempt/{attempt}")
            conv.start_attempt(message_id, now)

        try:
            self.change(f"{message_id}/attempt/{attempt}", {"key": customer_key}, change, create=False)
        except AlreadyProcessed:
            return False
        return True

    def record_result(self, customer_key: str, message_id: str, attempt: int, change: Change) -> None:
        try:
            self.change(f"{message_id}/result/{attempt}", {"key": customer_key}, change, create=False)
        except AlreadyProcessed:
            pass


def customer_name(conv: Conversation) -> str:
    """The name for the template's greeting: the one the customer gave the bot, else their profile's."""
    ticket = conv.ticket or {}
    # WhatsApp refuses an empty template parameter, hence the neutral last resort.
    return ticket.get("name") or conv.customer.get("name") or conv.customer.get("username") or "cliente"
