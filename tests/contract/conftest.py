"""The bus contract runs against both buses: `make test` proves the fake behaves like RabbitMQ."""

from __future__ import annotations

import pytest

from mostrador.events.memory import InMemoryBroker, InMemoryBus


@pytest.fixture(params=["memory", "rabbit"])
def make_bus(request, bus_namespace):
    """Returns a factory of bus clients that share one broker (like processes sharing RabbitMQ)."""
    created = []
    if request.param == "memory":
        broker = InMemoryBroker()

        def factory(**kwargs):
            bus = InMemoryBus(broker, retry_backoff=0.01, **kwargs)
            created.append(bus)
            return bus
    else:
        url = request.getfixturevalue("amqp_url")
        from mostrador.events.rabbit import RabbitBus

        def factory(*, via: str | None = None, **kwargs):
            """``via``: another URL for the same broker (a TcpProxy in front of it)."""
            bus = RabbitBus(via or url, name="contract", namespace=bus_namespace, retry_backoff=0.01, **kwargs)
            created.append(bus)
            return bus

        factory.url = url

    factory.kind = request.param
    yield factory
    if request.param == "rabbit":
        import asyncio
        asyncio.run(_delete_namespace(request.getfixturevalue("amqp_url"), bus_namespace))


async def _delete_namespace(url: str, namespace: str) -> None:
    """Remove every queue and exchange the test declared (RabbitMQ keeps durable ones forever)."""
    import aio_pika

    from mostrador.events.topology import INBOXES
    connection = await aio_pika.connect(url)
    try:
        names = [f"{s}.inbox" for s in INBOXES] + [f"{s}.inbox.dlq" for s in INBOXES]
        names += [f"{s}.{suffix}" for s in ("svc-a", "svc-b", "tickets", "chat")
                  for suffix in ("inbox", "inbox.dlq", "commands")]
        for name in names:
            channel = await connection.channel()
            try:
                await channel.queue_delete(f"{namespace}.{name}")
            except Exception:
                pass
        for name in ("events", "dlx", "commands"):
            channel = await connection.channel()
            try:
                await channel.exchange_delete(f"{namespace}.{name}")
            except Exception:
                pass
    finally:
        await connection.close()
