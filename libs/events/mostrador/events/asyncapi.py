"""Generates the AsyncAPI 3.0 document of the integration events (docs/asyncapi.yaml) from the
registry, so the documentation can never drift from the code: a test regenerates and compares.

    python -m mostrador.events.asyncapi > docs/asyncapi.yaml
"""

from __future__ import annotations

import sys
from typing import Any

import yaml

from mostrador.events.envelope import Envelope, EventPayload
from mostrador.events.schemas import ALL_PAYLOADS
from mostrador.events.topology import INBOXES, topic_matches


def _consumers(routing_key: str) -> list[str]:
    return sorted(i.service for i in INBOXES.values() if any(topic_matches(b, routing_key) for b in i.bindings))


def _message_name(model: type[EventPayload]) -> str:
    return model.routing_key().replace(".", "_")


def document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    envelope = Envelope.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(envelope.pop("$defs", {}))
    schemas["Envelope"] = envelope
    channels, operations, messages = {}, {}, {}
    for model in ALL_PAYLOADS:
        name = _message_name(model)
        payload = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(payload.pop("$defs", {}))
        schemas[f"{model.__name__}_v{model.VERSION}"] = payload
        messages[name] = {
            "name": model.routing_key(),
            "title": model.__name__,
            "summary": (model.__doc__ or "").strip().split("\n")[0] or model.routing_key(),
            "contentType": "application/json",
            "correlationId": {"location": "$message.payload#/correlation_id"},
            "payload": {"allOf": [{"$ref": "#/components/schemas/Envelope"}, {"type": "object", "properties": {
                "type": {"const": model.TYPE}, "version": {"const": model.VERSION},
                "payload": {"$ref": f"#/components/schemas/{model.__name__}_v{model.VERSION}"}}}]},
        }
        channels[name] = {
            "address": model.routing_key(),
            "description": f"Routing key on the `events` topic exchange. Consumed by: "
                           f"{', '.join(_consumers(model.routing_key())) or 'other systems'}.",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations[f"publish_{name}"] = {
            "action": "send", "channel": {"$ref": f"#/channels/{name}"},
            "summary": f"Published by {model.TYPE.split('.')[0]}",
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Mostrador integration events",
            "version": "1.0.0",
            "description": (
                "Every event travels in one envelope on the durable topic exchange `<namespace>.events` "
                "(namespace `mostrador` by default) with routing key `<producer>.<aggregate>.<event>.v<N>`. "
                "Delivery is at least once: the `event_id` (also the AMQP message_id) is stable across "
                "republishing, so consumers deduplicate by it. Ticket, message and conversation events carry "
                "the entity's whole state after the change with a `version`: upsert by version and delivery "
                "order stops mattering. A breaking change is a new `.vN+1`; fields are only ever added."),
        },
        "defaultContentType": "application/json",
        "servers": {"rabbitmq": {"host": "rabbitmq:5672", "protocol": "amqp", "protocolVersion": "0.9.1"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def render() -> str:
    return yaml.safe_dump(document(), sort_keys=False, allow_unicode=True, width=110)


if __name__ == "__main__":
    sys.stdout.write(render())
