"""The Conversation: every message between us and one customer, with its delivery state.

Commands check the rules and compute (clock readings come in as arguments); the private @event
mutators only store what they are given, because they run again on every replay. Messages are
plain dicts keyed by our message id (stable across retries); ``wamids`` maps WhatsApp's ids to
ours, so delivery reports find their message.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from mostrador.chat.window import (EN_PROCESO, NO_REASON, closes_window, fold_reports, free_text_refusal, is_open,
                                   next_status)

MAX_EARLY = 100  # wamids whose reports wait for their send result


class Refused(Exception):
    """A rule says no. ``code``/``status`` become the command's error reply."""

    def __init__(self, code: str, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def conversation_id(customer_key: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/mostrador/chat/conversations/{customer_key}")


def ticket_index_id(number: int) -> UUID:
    return uuid5(NAMESPACE_URL, f"/mostrador/chat/tickets/{number}")


def _dt(value: Any) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _newer(current: dict[str, Any] | None, ticket: dict[str, Any] | None) -> bool:
    """A later ticket (higher number) or a later version of the same one."""
    if ticket is None:
        return False
    return current is None or (ticket["number"], ticket["version"]) > (current["number"], current["version"])


class Conversation(Aggregate):
    class Started(Aggregate.Created):
        customer: dict[str, Any]

    @event(Started)
    def __init__(self, customer: dict[str, Any]) -> None:
        self.customer = dict(customer)
        self.ticket: dict[str, Any] | None = None  # the customer's current ticket: id, number, status, version, name
        self.messages: dict[str, dict[str, Any]] = {}
        self.wamids: dict[str, str] = {}
        self.early: dict[str, list[dict[str, Any]]] = {}  # statuses that arrived before their send result
        self.early_media: dict[str, str] = {}  # wamid -> media id stored before the message reached us
        self.last_inbound_at: datetime | None = None
        self.last_inbound_wamid: str | None = None
        self.closed_for: datetime | None = None  # the last_inbound_at whose window WhatsApp declared closed
        self.closed_at: datetime | None = None
        self.unread = 0
        self.read_wamid: str | None = None
        self.last_message_at: datetime | None = None

    @classmethod
    def create_id(cls, customer: dict[str, Any], **_: Any) -> UUID:
        return conversation_id(customer["key"])

    @property
    def key(self) -> str:
        return self.customer["key"]

    def window_open(self, now: datetime, hours: float) -> bool:
        return is_open(now, self.last_inbound_at, hours, self.closed_for)

    def message(self, message_id: str) -> dict[str, Any]:
        try:
            return self.messages[message_id]
        except KeyError:
            raise Refused("not_found", f"no message {message_id} in this conversation", 404) from None

    def free_text_refusal(self, number: int | None, now: datetime, hours: float) -> tuple[str, str] | None:
        current = self.ticket
        if current is not None and number is not None and current["number"] != number:
            return "not_in_process", (f"ticket {number} is no longer the customer's current ticket "
                                      f"(that is {current['number']}, {current['status']})")
        return free_text_refusal(current and current["status"], self.window_open(now, hours))

    # -- commands: customer side ---------------------------------------------------------------

    def record_inbound(self, message_id: str, message: dict[str, Any], ticket: dict[str, Any] | None) -> bool:
        """A customer message (the whole InboundMessage, as JSON). WhatsApp retries: dedupe by wamid."""
        if message["message_id"] in self.wamids:
            self.note_ticket(ticket)
            return False
        self._inbound_recorded(message_id=message_id, message=message, ticket=ticket)
        return True

    def note_ticket(self, ticket: dict[str, Any] | None) -> bool:
        if not _newer(self.ticket, ticket):
            return False
        self._ticket_changed(ticket=ticket)
        return True

    def media_stored(self, wamid: str, media_id: str) -> bool:
        message_id = self.wamids.get(wamid)
        if message_id is None:  # ingest stored it before tickets filed the message: keep it for then
            if self.early_media.get(wamid) == media_id:
                return False
            self._media_kept(wamid=wamid, media_id=media_id)
            return True
        msg = self.messages[message_id]
        if msg["direction"] != "in" or msg.get("media_id") == media_id:
            return False
        self._media_available(message_id=message_id, media_id=media_id)
        return True

    def close_window(self, last_inbound_at: datetime, at: datetime) -> bool:
        """The scheduler's deadline fell due. Stale if the customer wrote again since."""
        if self.last_inbound_at is None or last_inbound_at < self.last_inbound_at or self.closed_for == self.last_inbound_at:
            return False
        self._window_closed(at=at)
        return True

    def mark_read(self, by: dict[str, Any], at: datetime) -> bool:
        if self.unread == 0 and self.read_wamid == self.last_inbound_wamid:
            return False
        self._read(by=by, at=at)
        return True

    # -- commands: our side --------------------------------------------------------------------

    def request_outbound(self, message_id: str, *, author: dict[str, Any], content: dict[str, Any], at: datetime,
                         ticket_id: str | None, number: int | None) -> bool:
        """Record a message to send (pending). The id comes from the request, so a redelivered
        request finds it here and records nothing."""
        if message_id in self.messages:
            return False
        self._outbound_requested(message_id=message_id, author=author, content=content, at=at, ticket_id=ticket_id,
                                 number=number)
        return True

    def send_text(self, message_id: str, text: str, *, by: dict[str, Any], at: datetime, number: int,
                  ticket_id: str | None, hours: float) -> bool:
        if message_id in self.messages:
            return False
        refusal = self.free_text_refusal(number, at, hours)
        if refusal:
            raise Refused(*refusal)
        return self.request_outbound(message_id, author=by, content={"kind": "text", "text": text}, at=at,
                                     ticket_id=ticket_id, number=number)

    def resume(self, message_id: str, template: dict[str, Any], *, by: dict[str, Any], at: datetime, number: int,
               ticket_id: str | None, hours: float) -> bool:
        """«Retomar contacto»: the approved template, only once the window is closed (any ticket status)."""
        if message_id in self.messages:
            return False
        if self.window_open(at, hours):
            raise Refused("window_open", "the 24-hour window is still open: write in the chat instead")
        return self.request_outbound(message_id, author=by, content={"kind": "template", "template": template},
                                     at=at, ticket_id=ticket_id, number=number)

    def retry(self, message_id: str, *, by: dict[str, Any], at: datetime, hours: float) -> None:
        msg = self.message(message_id)
        if msg["direction"] != "out" or msg["status"] != "failed":
            raise Refused("not_failed", f"only a failed message can be sent again; this one is {msg['status']}")
        if (msg["content"] or {}).get("kind") != "template":  # free text: the window rules apply again
            refusal = None
            if msg["author"].get("kind") == "operator":
                refusal = self.free_text_refusal(msg["number"], at, hours)
            elif not self.window_open(at, hours):  # a bot reply: only the window matters
                refusal = free_text_refusal(EN_PROCESO, window_open=False)
            if refusal:
                raise Refused(*refusal)
        self._retried(message_id=message_id, by=by, at=at)

    def start_attempt(self, message_id: str, at: datetime) -> int:
        """Recorded before the HTTP call, so a crash mid-send is visible on redelivery."""
        attempt = self.messages[message_id]["attempts"] + 1
        self._send_attempted(message_id=message_id, attempt=attempt, at=at)
        return attempt

    def record_sent(self, message_id: str, wamid: str, at: datetime) -> bool:
        msg = self.messages[message_id]
        if msg["status"] != "pending" or msg["wamid"] is not None:
            return False  # a status webhook carrying our id already resolved it
        status, status_at, error = fold_reports("sent", at, self.early.get(wamid, []))
        self._sent(message_id=message_id, wamid=wamid, status=status, status_at=status_at, error=error,
                   closes_window=self._closes_window(msg, error))
        if status == "failed":
            self._gave_up(message_id=message_id, error=error)
        return True

    def record_failed(self, message_id: str, error: dict[str, Any], *, permanent: bool, at: datetime) -> bool:
        msg = self.messages[message_id]
        if msg["status"] != "pending":
            return False
        self._send_failed(message_id=message_id, error=error, at=at, closes_window=self._closes_window(msg, error))
        if permanent:
            self._gave_up(message_id=message_id, error=error)
        return True

    def apply_status(self, wamid: str, status: str, at: datetime, errors: list[dict[str, Any]],
                     callback_data: str | None) -> bool:
        message_id, adopt = self.wamids.get(wamid), False
        ours = self.messages.get(callback_data or "")
        if message_id is None and ours is not None and ours["direction"] == "out":
            if ours["wamid"] is not None:
                return False  # a second send of the same message (crash resend): its reports are noise
            message_id, adopt = callback_data, True
        if message_id is None:
            self._status_kept(wamid=wamid, status=status, at=at, errors=errors)
            return True
        msg = self.messages[message_id]
        if msg["direction"] != "out" or (not adopt and msg["wamid"] != wamid):
            return False  # a report about an earlier attempt of a message sent again since
        # Proof of a send we had marked failed without a wamid (a timeout that did land) corrects it.
        current = "pending" if adopt and msg["status"] == "failed" else msg["status"]
        moved = next_status(current, status)
        if moved is None:
            return False
        error = (errors or [NO_REASON])[0] if moved == "failed" else None
        self._status_updated(message_id=message_id, wamid=wamid, status=moved, at=at, error=error,
                             closes_window=self._closes_window(msg, error))
        if moved == "failed":
            self._gave_up(message_id=message_id, error=error)
        return True

    def _closes_window(self, msg: dict[str, Any], error: dict[str, Any] | None) -> bool:
        tried = msg.get("attempted_at")
        return closes_window(error, self.last_inbound_at, _dt(tried) if tried else None)

    # -- mutators (stored values only) ---------------------------------------------------------

    def _touch(self, at: datetime) -> None:
        if self.last_message_at is None or at > self.last_message_at:
            self.last_message_at = at

    def _change(self, message_id: str, **fields: Any) -> None:
        msg = self.messages[message_id]
        self.messages[message_id] = {**msg, **copy.deepcopy(fields), "version": msg["version"] + 1}

    @event("InboundRecorded")
    def _inbound_recorded(self, message_id: str, message: dict[str, Any], ticket: dict[str, Any] | None) -> None:
        at, wamid = _dt(message["timestamp"]), message["message_id"]
        if _newer(self.ticket, ticket):
            self.ticket = dict(ticket)
        mine = ticket or self.ticket or {}
        who = {k: v for k, v in (message.get("customer") or {}).items() if v is not None}
        self.customer = {**self.customer, **who, "key": self.key}
        self.messages[message_id] = {
            "message_id": message_id, "version": 1, "direction": "in",
            "author": {"kind": "customer", "id": self.key, "name": self.customer.get("name")},
            "customer_key": self.key, "ticket_id": mine.get("ticket_id"), "number": mine.get("number"), "at": at,
            "inbound": copy.deepcopy(message), "content": None, "wamid": wamid, "status": "received",
            "status_at": at, "error": None, "attempts": 0, "media_id": self.early_media.pop(wamid, None)}
        self.wamids[wamid] = message_id
        if self.last_inbound_at is None or at >= self.last_inbound_at:  # timestamps are whole seconds
            self.last_inbound_at, self.last_inbound_wamid = at, wamid
        self.unread += 1
        self._touch(at)

    @event("TicketChanged")
    def _ticket_changed(self, ticket: dict[str, Any]) -> None:
        self.ticket = dict(ticket)

    @event("MediaKept")
    def _media_kept(self, wamid: str, media_id: str) -> None:
        self.early_media[wamid] = media_id

    @event("MediaAvailable")
    def _media_available(self, message_id: str, media_id: str) -> None:
        self._change(message_id, media_id=media_id)

    @event("WindowClosed")
    def _window_closed(self, at: datetime) -> None:
        self.closed_for, self.closed_at = self.last_inbound_at, at

    @event("Read")
    def _read(self, by: dict[str, Any], at: datetime) -> None:
        self.unread, self.read_wamid = 0, self.last_inbound_wamid

    @event("OutboundRequested")
    def _outbound_requested(self, message_id: str, author: dict[str, Any], content: dict[str, Any], at: datetime,
                            ticket_id: str | None, number: int | None) -> None:
        self.messages[message_id] = {
            "message_id": message_id, "version": 1, "direction": "out", "author": dict(author),
            "customer_key": self.key, "ticket_id": ticket_id, "number": number, "at": at, "inbound": None,
            "content": copy.deepcopy(content), "wamid": None, "status": "pending", "status_at": at, "error": None,
            "attempts": 0, "round": 1, "attempted_round": 0, "attempted_at": None}
        self._touch(at)

    @event("SendAttempted")
    def _send_attempted(self, message_id: str, attempt: int, at: datetime) -> None:
        self._change(message_id, attempts=attempt, attempted_round=self.messages[message_id]["round"],
                     attempted_at=at)

    def _close_if(self, closes_window: bool, at: datetime) -> None:
        if closes_window:
            self.closed_for, self.closed_at = self.last_inbound_at, at

    @event("Sent")
    def _sent(self, message_id: str, wamid: str, status: str, status_at: datetime, error: dict[str, Any] | None,
              closes_window: bool) -> None:
        self._change(message_id, wamid=wamid, status=status, status_at=status_at, error=error)
        self.wamids[wamid] = message_id
        self.early.pop(wamid, None)
        self._close_if(closes_window, status_at)

    @event("SendFailed")
    def _send_failed(self, message_id: str, error: dict[str, Any], at: datetime, closes_window: bool) -> None:
        self._change(message_id, status="failed", status_at=at, error=error)
        self._close_if(closes_window, at)

    @event("StatusKept")
    def _status_kept(self, wamid: str, status: str, at: datetime, errors: list[dict[str, Any]]) -> None:
        self.early.setdefault(wamid, []).append({"status": status, "at": at, "errors": copy.deepcopy(errors)})
        while len(self.early) > MAX_EARLY:  # reports for sends that are not ours would pile up forever
            del self.early[next(iter(self.early))]

    @event("StatusUpdated")
    def _status_updated(self, message_id: str, wamid: str, status: str, at: datetime, error: dict[str, Any] | None,
                        closes_window: bool) -> None:
        self._change(message_id, wamid=wamid, status=status, status_at=at, error=error)
        self.wamids[wamid] = message_id
        self._close_if(closes_window, at)

    @event("GaveUp")
    def _gave_up(self, message_id: str, error: dict[str, Any]) -> None:
        """No state change: marks a permanent failure, published for other systems and alerting."""

    @event("Retried")
    def _retried(self, message_id: str, by: dict[str, Any], at: datetime) -> None:
        msg = self.messages[message_id]
        self._change(message_id, status="pending", status_at=at, error=None, wamid=None, round=msg["round"] + 1)


class TicketIndex(Aggregate):
    """Ticket number -> customer: the panel names tickets by number, chat keeps conversations per customer."""

    @event("Indexed")
    def __init__(self, number: int, customer_key: str, ticket_id: str | None) -> None:
        self.number, self.customer_key, self.ticket_id = number, customer_key, ticket_id

    @classmethod
    def create_id(cls, number: int, **_: Any) -> UUID:
        return ticket_index_id(number)
