"""What RabbitBus.publish puts on the wire, read back raw from a queue of our own: the AMQP properties
other systems may rely on (message_id is the event id; type, correlation, producer; persistent JSON),
and an event nobody is bound to yet still confirmed (events are published whether or not anyone listens)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import aio_pika
import pytest

from mostrador.events.envelope import new_envelope
from mostrador.events.rabbit import RabbitBus
from mostrador.events.registry import parse_envelope
from mostrador.events.schemas.scheduler import WindowClosed
from tests.contract.conftest import _delete_namespace

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
NOW = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)


async def test_publish_sets_the_properties_of_the_event_contract(amqp_url, bus_namespace):
    bus = RabbitBus(amqp_url, name="props", namespace=bus_namespace)
    await bus.start()
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue("", exclusive=True)
        await queue.bind(f"{bus_namespace}.events", routing_key="scheduler.window.closed.v1")
        envelope = new_envelope(WindowClosed(customer_key="5491100000001", last_inbound_at=NOW, closed_at=NOW),
                                producer="scheduler", aggregate_id="5491100000001")
        await bus.publish(envelope)
        message = None
        for _ in range(50):
            message = await queue.get(fail=False)
            if message is not None:
                break
            await asyncio.sleep(0.1)
        assert message is not None
        assert message.message_id == str(envelope.event_id)
        assert message.type == "scheduler.window.closed.v1" == envelope.routing_key
        assert message.correlation_id == str(envelope.event_id)  # no correlation of its own: itself
        assert message.app_id == "scheduler"
        assert message.content_type == "application/json"
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert parse_envelope(message.body) == envelope

        nobody = new_envelope(WindowClosed(customer_key="5491100000002", last_inbound_at=NOW, closed_at=NOW),
                              producer="scheduler", aggregate_id="5491100000002")
        await queue.unbind(f"{bus_namespace}.events", routing_key="scheduler.window.closed.v1")
        await bus.publish(nobody)  # confirmed by the broker, nothing raised
    finally:
        await connection.close()
        await bus.stop()
        await _delete_namespace(amqp_url, bus_namespace)
