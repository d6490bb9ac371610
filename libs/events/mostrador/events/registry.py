"""(type, version) -> payload schema; parses raw envelopes and refuses what it does not know."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from mostrador.events.envelope import Envelope, EventPayload
from mostrador.events.schemas import ALL_PAYLOADS


class UnknownEventError(ValueError):
    """Raised for an envelope that is malformed or names a type/version nobody registered."""


class Registry:
    def __init__(self, payloads: list[type[EventPayload]]) -> None:
        self._models: dict[tuple[str, int], type[EventPayload]] = {}
        for model in payloads:
            key = (model.TYPE, model.VERSION)
            if key in self._models:
                raise ValueError(f"event {model.routing_key()} registered twice")
            self._models[key] = model

    def __iter__(self):
        return iter(self._models.values())

    def __contains__(self, routing_key: str) -> bool:
        return any(m.routing_key() == routing_key for m in self._models.values())

    def model_for(self, type_: str, version: int) -> type[EventPayload]:
        try:
            return self._models[(type_, version)]
        except KeyError:
            raise UnknownEventError(f"unknown event type {type_}.v{version}") from None

    def parse(self, raw: bytes | str | dict[str, Any]) -> Envelope:
        try:
            data = raw if isinstance(raw, dict) else json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise UnknownEventError(f"envelope is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise UnknownEventError("envelope must be a JSON object")
        type_, version = data.get("type"), data.get("version")
        if not isinstance(type_, str) or not isinstance(version, int):
            raise UnknownEventError("envelope needs a string 'type' and an integer 'version'")
        model = self.model_for(type_, version)
        try:
            payload = model.model_validate(data.get("payload"))
            return Envelope.model_validate({**data, "payload": payload})
        except ValidationError as exc:
            raise UnknownEventError(f"malformed {type_}.v{version}: {exc}") from None


REGISTRY = Registry(ALL_PAYLOADS)


def parse_envelope(raw: bytes | str | dict[str, Any]) -> Envelope:
    return REGISTRY.parse(raw)
