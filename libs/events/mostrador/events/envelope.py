"""The one envelope every integration event travels in.

Routing key: ``<producer>.<aggregate>.<event>.v<N>`` — ``type`` holds the first three parts,
``version`` the N.  A breaking change to a payload is a new version (a new class), never an edit.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, SerializeAsAny

# Namespace for every deterministic id we mint (uuid5), so re-publishing yields the same id.
NAMESPACE = uuid.UUID("6f1c1d0e-4a55-4d8e-9d2b-6d6f73747261")


def stable_id(*parts: object) -> uuid.UUID:
    """A deterministic UUID from its parts: the same inputs always give the same id."""
    return uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts))


class EventPayload(BaseModel):
    """Base of every payload schema. Consumers ignore fields they do not know (additive changes)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    TYPE: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1

    @classmethod
    def routing_key(cls) -> str:
        return f"{cls.TYPE}.v{cls.VERSION}"


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: uuid.UUID
    type: str
    version: int
    producer: str
    aggregate_id: str
    aggregate_version: int
    occurred_at: AwareDatetime
    correlation_id: uuid.UUID | None = None
    causation_id: uuid.UUID | None = None
    payload: SerializeAsAny[EventPayload]

    @property
    def routing_key(self) -> str:
        return f"{self.type}.v{self.version}"

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    def log_context(self) -> dict[str, Any]:
        """What every log line of this message's handling carries (the bus binds it)."""
        return {
            "event_id": str(self.event_id),
            "event_type": self.routing_key,
            "correlation_id": str(self.correlation_id or self.event_id),
            **subject(self.payload),
        }


# The message whose handler is running (the bus sets it around each one; worker threads inherit it),
# so that what the handler stores, and its relay later publishes, carries the message's correlation on
# and names it as the cause: one customer message's events, across every service, share one id.
HANDLING: ContextVar[Envelope | None] = ContextVar("handling", default=None)


def cause_of(envelope: Envelope | None) -> dict[str, str]:
    """What an event caused by ``envelope`` records of it (nothing when no message is being handled)."""
    if envelope is None:
        return {}
    return {"correlation_id": str(envelope.correlation_id or envelope.event_id),
            "causation_id": str(envelope.event_id)}


def subject(payload: EventPayload) -> dict[str, Any]:
    """The ticket number and customer key a payload is about, wherever its schema keeps them
    (on itself, or on its ticket, message or conversation)."""
    holders = [payload, *(_field(payload, name) for name in ("ticket", "message", "conversation"))]
    found: dict[str, Any] = {}
    for holder in (h for h in holders if h is not None):
        number = _field(holder, "number")
        if isinstance(number, int):
            found.setdefault("ticket", number)
        customer = _field(holder, "customer") or _field(holder, "recipient")
        key = _field(customer, "key") or _field(holder, "customer_key")
        if isinstance(key, str):
            found.setdefault("customer", key)
    return found


def _field(obj: Any, name: str) -> Any:
    """``getattr(obj, name, None)`` without the exception a pydantic model raises for a missing name
    (every delivery of every service logs its subject: the exceptions were most of that cost)."""
    fields = getattr(type(obj), "__pydantic_fields__", None)
    if fields is not None:
        return getattr(obj, name) if name in fields else None
    return getattr(obj, name, None)


def new_envelope(
    payload: EventPayload,
    *,
    producer: str,
    aggregate_id: str | uuid.UUID,
    aggregate_version: int = 1,
    event_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
    correlation_id: uuid.UUID | None = None,
    causation_id: uuid.UUID | None = None,
) -> Envelope:
    event_id = event_id or uuid.uuid4()
    return Envelope(
        event_id=event_id,
        type=payload.TYPE,
        version=payload.VERSION,
        producer=producer,
        aggregate_id=str(aggregate_id),
        aggregate_version=aggregate_version,
        occurred_at=occurred_at or datetime.now(UTC),
        correlation_id=correlation_id or event_id,
        causation_id=causation_id,
        payload=payload,
    )
