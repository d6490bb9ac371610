"""The bot and tickets services together on the in-memory bus: a customer's first message opens a
ticket, and the bot's first turn tells that ticket which required fields are still missing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mostrador.bot.service import build as build_bot
from mostrador.events.envelope import new_envelope, stable_id
from mostrador.events.memory import InMemoryBroker, InMemoryBus
from mostrador.events.schemas import ingest
from mostrador.events.schemas.common import Customer
from mostrador.platform.clock import FakeClock
from mostrador.platform.http import start_all, stop_all
from mostrador.platform.service import Context
from mostrador.platform.settings import Settings
from mostrador.tickets.service import build as build_tickets
from tests.polling import until

pytestmark = pytest.mark.service
T0 = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)


def received(wamid: str, text: str):
    message = ingest.InboundMessage(message_id=wamid, phone_number_id="1", timestamp=T0, type="text", text=text,
                                    customer=Customer(key="5491100000001", wa_id="5491100000001", name="Lucía"))
    event_id = stable_id("ingest", "message", wamid)
    return new_envelope(ingest.MessageReceived(message=message), producer="ingest", aggregate_id=event_id,
                        event_id=event_id)


@pytest.fixture
async def shop(tmp_path):
    bus, observer = InMemoryBus(broker := InMemoryBroker()), InMemoryBus(broker)
    seen: list = []

    async def collect(envelope):
        seen.append(envelope)

    observer.subscribe("observer", ["tickets.#", "bot.#"], collect)
    ctx = Context(settings=Settings(data_dir=tmp_path, bot_config=None), bus=bus, clock=FakeClock(T0))
    services = [build_tickets(ctx), build_bot(ctx)]
    await start_all(bus, services)
    await observer.start()
    yield type("Shop", (), {"bus": observer, "seen": seen, "tickets": services[0].parts["app"]})()
    await observer.stop()
    await stop_all(bus, services)



def details_changes(shop) -> list:
    return [e.payload for e in shop.seen if e.routing_key == "tickets.ticket.details_changed.v1"]


async def test_a_new_ticket_lists_what_is_missing_from_the_first_message(shop):
    await shop.bus.publish(received("w1", "Hola"))

    changed = await until(lambda: details_changes(shop))
    assert changed[0].ticket.number == 1 and changed[0].ticket.status == "INCOMPLETO"
    assert changed[0].ticket.missing == ["branch", "delivery", "order", "name"]
    assert shop.tickets.get_ticket(1).missing == ["branch", "delivery", "order", "name"]


async def test_a_help_request_lists_topic_and_branch(shop):
    await shop.bus.publish(received("w1", "Hola, quiero hablar con una persona"))

    changed = await until(lambda: details_changes(shop))
    assert (changed[-1].ticket.type, changed[-1].ticket.missing) == ("AYUDA", ["topic", "branch"])
