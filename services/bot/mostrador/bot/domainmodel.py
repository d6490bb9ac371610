"""The Conversation aggregate: the bot's memory of one ticket's intake, and what it decided to say.

One conversation per ticket. The flow (flow.py) is a pure function that computes the next state and
the outputs; a turn is stored as events carrying those computed values, so replay never re-runs the
flow, never reads a clock and always rebuilds the same state. Outputs are events of their own
(one reply = one event) because the outbox relay publishes one integration event per stored event.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

START = "start"


@dataclass(frozen=True)
class ConversationState:
    """Where the intake is. Plain JSON-able values only: it is stored inside events."""

    step: str = START  # the question awaiting an answer (see flow.py)
    type: str = "PEDIDO"  # PEDIDO | AYUDA
    branch: str | None = None  # branch id from the config
    topic: str | None = None  # topic id from the config
    details: dict[str, Any] = field(default_factory=dict)  # TicketDetails fields captured so far
    answered: tuple[str, ...] = ()  # order fields answered or skipped, so each is asked once
    outcome: str | None = None  # completed | cancelled
    acked: bool = False  # the "a person will answer soon" note was sent (once per ticket)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["answered"] = list(self.answered)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConversationState:
        return cls(**{**data, "answered": tuple(data.get("answered", ()))})


@dataclass(frozen=True)
class Turn:
    """What the flow decided for one inbound message; the aggregate records it as events."""

    state: ConversationState
    replies: list[dict[str, Any]] = field(default_factory=list)  # OutboundContent dicts
    intake: dict[str, Any] | None = None  # type, branch, topic, details, missing — when it changed
    completed: bool = False
    cancelled: bool = False


class Conversation(Aggregate):
    class Started(Aggregate.Created):
        ticket_id: str
        number: int
        customer: dict[str, Any]
        at: datetime

    class MessageHandled(Aggregate.Event):
        message_id: str
        at: datetime
        customer: dict[str, Any]
        state: dict[str, Any]

    class ReplyRequested(Aggregate.Event):
        ticket_id: str
        number: int
        customer: dict[str, Any]
        content: dict[str, Any]
        in_reply_to: str | None

    class IntakeUpdated(Aggregate.Event):
        ticket_id: str
        number: int
        intake: dict[str, Any]

    class IntakeCompleted(Aggregate.Event):
        ticket_id: str
        number: int
        intake: dict[str, Any]

    class IntakeCancelled(Aggregate.Event):
        ticket_id: str
        number: int
        reason: str | None

    @event(Started)
    def __init__(self, ticket_id: str, number: int, customer: dict[str, Any], at: datetime) -> None:
        self.ticket_id = ticket_id
        self.number = number
        self.customer = customer
        self.started_at = at
        self._state: dict[str, Any] = ConversationState().to_dict()
        self.handled: list[str] = []
        self.last_message_at = at
        self.replies_requested = 0
        self.intake: dict[str, Any] | None = None
        self.cancel_reason: str | None = None

    @staticmethod
    def create_id(ticket_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/mostrador/bot/conversations/{ticket_id}")

    @property
    def state(self) -> ConversationState:
        return ConversationState.from_dict(self._state)

    def has_handled(self, message_id: str) -> bool:
        return message_id in self.handled

    # -- command -------------------------------------------------------------------------------
    def take_turn(self, message_id: str, at: datetime, customer: dict[str, Any], turn: Turn) -> bool:
        """Record the flow's decision for one message; False (nothing recorded) if seen before."""
        if self.has_handled(message_id):
            return False
        self._message_handled(message_id=message_id, at=at, customer=customer, state=turn.state.to_dict())
        if turn.intake is not None and turn.completed:
            self._intake_completed(ticket_id=self.ticket_id, number=self.number, intake=turn.intake)
        elif turn.intake is not None:
            self._intake_updated(ticket_id=self.ticket_id, number=self.number, intake=turn.intake)
        if turn.cancelled:
            self._intake_cancelled(ticket_id=self.ticket_id, number=self.number, reason="customer")
        for content in turn.replies:
            self._reply_requested(ticket_id=self.ticket_id, number=self.number, customer=customer,
                                  content=content, in_reply_to=message_id)
        return True

    # -- mutators: stored values only, they run again on every replay --------------------------
    @event(MessageHandled)
    def _message_handled(self, message_id: str, at: datetime, customer: dict[str, Any],
                         state: dict[str, Any]) -> None:
        self.handled.append(message_id)
        self.customer = customer
        self._state = state
        self.last_message_at = at

    @event(ReplyRequested)
    def _reply_requested(self, ticket_id: str, number: int, customer: dict[str, Any],
                         content: dict[str, Any], in_reply_to: str | None) -> None:
        self.replies_requested += 1

    @event(IntakeUpdated)
    def _intake_updated(self, ticket_id: str, number: int, intake: dict[str, Any]) -> None:
        self.intake = intake

    @event(IntakeCompleted)
    def _intake_completed(self, ticket_id: str, number: int, intake: dict[str, Any]) -> None:
        self.intake = intake

    @event(IntakeCancelled)
    def _intake_cancelled(self, ticket_id: str, number: int, reason: str | None) -> None:
        self.cancel_reason = reason
