"""The integration contract: one envelope, versioned payload schemas, the bus and the outbox relay."""

from mostrador.events.envelope import Envelope, EventPayload, new_envelope
from mostrador.events.registry import REGISTRY, UnknownEventError, parse_envelope

__all__ = ["Envelope", "EventPayload", "REGISTRY", "UnknownEventError", "new_envelope", "parse_envelope"]
