"""Every registered event type round-trips through the wire format, the registry refuses what it
does not know, and the AsyncAPI document lists every type (regenerate with `make asyncapi`)."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from polyfactory.factories.pydantic_factory import ModelFactory

from mostrador.events import REGISTRY, UnknownEventError, new_envelope, parse_envelope
from mostrador.events.asyncapi import document
from mostrador.events import schemas
from mostrador.events.envelope import EventPayload
from mostrador.events.schemas import ALL_PAYLOADS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("model", ALL_PAYLOADS, ids=lambda m: m.routing_key())
def test_every_schema_round_trips(model):
    factory = ModelFactory.create_factory(model, __random_seed__=7)
    for _ in range(25):  # random instances: optional fields both present and absent
        payload = factory.build()
        envelope = new_envelope(payload, producer=model.TYPE.split(".")[0], aggregate_id="a1",
                                occurred_at=datetime(2026, 9, 15, tzinfo=UTC))
        again = parse_envelope(envelope.to_bytes())
        assert again == envelope
        assert type(again.payload) is model
        assert again.routing_key == model.routing_key()


def test_routing_keys_follow_producer_aggregate_event_version():
    for model in ALL_PAYLOADS:
        parts = model.routing_key().split(".")
        assert len(parts) == 4 and parts[3] == f"v{model.VERSION}", model.routing_key()


@pytest.mark.parametrize("raw, reason", [
    (b"not json", "not JSON"),
    (b"[1, 2]", "JSON object"),
    (b'{"type": "tickets.ticket.opened"}', "integer 'version'"),
    (b'{"type": "tickets.ticket.exploded", "version": 1}', "unknown event type tickets.ticket.exploded.v1"),
    (b'{"type": "tickets.ticket.opened", "version": 9}', "unknown event type tickets.ticket.opened.v9"),
])
def test_registry_refuses_unknown_and_malformed_with_a_clear_error(raw, reason):
    with pytest.raises(UnknownEventError, match=reason):
        parse_envelope(raw)


def test_registry_refuses_a_known_type_with_a_bad_payload():
    good = new_envelope(ALL_PAYLOADS[-1].model_validate({"customer_key": "k", "last_inbound_at": "2026-09-15T00:00:00Z",
                                                          "closed_at": "2026-09-16T00:00:00Z"}),
                        producer="scheduler", aggregate_id="k")
    data = json.loads(good.to_bytes())
    data["payload"]["last_inbound_at"] = "yesterday"
    with pytest.raises(UnknownEventError, match="malformed scheduler.window.closed.v1"):
        parse_envelope(json.dumps(data))


def defined_payloads() -> set[type[EventPayload]]:
    """Every event payload class written in the schema modules, found by walking them — not ALL_PAYLOADS,
    so a class someone forgot to list there is still found."""
    found: set[type[EventPayload]] = set()
    for info in pkgutil.iter_modules(schemas.__path__, schemas.__name__ + "."):
        module = importlib.import_module(info.name)
        found |= {obj for obj in vars(module).values()
                  if inspect.isclass(obj) and issubclass(obj, EventPayload) and obj is not EventPayload
                  and obj.__module__ == module.__name__}
    pending = list(EventPayload.__subclasses__())  # also any subclass defined outside a module's namespace
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        if cls.__module__.startswith(schemas.__name__ + "."):
            found.add(cls)
    return found


def test_the_walk_finds_every_listed_payload():
    assert set(ALL_PAYLOADS) <= defined_payloads()  # the walk itself misses nothing it should see


def test_asyncapi_document_is_current():
    committed = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())
    assert committed == document(), "docs/asyncapi.yaml is stale: run `make asyncapi`"


def test_asyncapi_document_lists_every_event_payload_defined_in_the_schemas():
    committed = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())
    addresses = {channel["address"] for channel in committed["channels"].values()}
    defined = {model.routing_key() for model in defined_payloads()}
    assert defined - addresses == set(), "defined but not documented: add them to ALL_PAYLOADS, run `make asyncapi`"
    assert addresses - defined == set(), "documented but no longer defined"
    assert {model.routing_key() for model in REGISTRY} == defined  # and the wire accepts every one
