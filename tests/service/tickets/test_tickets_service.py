"""The tickets service on the in-memory bus: integration events in, integration events out, and the
change_status command's answers (the panel maps them to HTTP)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from mostrador.events.bus import CommandError, unwrap_reply
from mostrador.events.commands import ChangeStatus
from mostrador.events.envelope import new_envelope, stable_id
from mostrador.events.memory import InMemoryBroker, InMemoryBus
from mostrador.events.schemas import bot, ingest, scheduler
from mostrador.events.schemas.common import Actor, Customer
from mostrador.events.schemas.tickets import TicketDetails
from mostrador.platform.clock import FakeClock
from mostrador.platform.http import start_all, stop_all
from mostrador.platform.service import Context
from mostrador.platform.settings import Settings
from mostrador.tickets.service import build

T0 = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)
OPERATOR = Actor(kind="operator", id="ana", name="Ana")


def received(wamid: str, phone: str = "5491100000001"):
    message = ingest.InboundMessage(message_id=wamid, phone_number_id="1", timestamp=T0, type="text", text="Hola",
                                    customer=Customer(key=phone, wa_id=phone, name="Lucía"))
    event_id = stable_id("ingest", "message", wamid)
    return new_envelope(ingest.MessageReceived(message=message), producer="ingest", aggregate_id=event_id,
                        event_id=event_id)


@pytest.fixture
async def rig(tmp_path):
    clock = FakeClock(T0)
    bus, client = InMemoryBus(broker := InMemoryBroker()), InMemoryBus(broker)
    out: list = []

    async def collect(envelope):
        out.append(envelope)

    client.subscribe("observer", ["tickets.#"], collect)
    service = build(Context(settings=Settings(data_dir=tmp_path), bus=bus, clock=clock))
    await start_all(bus, [service])
    await client.start()
    rig = type("Rig", (), {})()
    rig.bus, rig.client, rig.out, rig.clock, rig.app = bus, client, out, clock, service.parts["app"]

    async def until(predicate, timeout=5.0):
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate():
            assert asyncio.get_running_loop().time() < deadline, [e.routing_key for e in out]
            await asyncio.sleep(0.01)

    rig.until = until
    yield rig
    await client.stop()
    await stop_all(bus, [service])


def keys(rig) -> list[str]:
    return [e.routing_key for e in rig.out]


async def test_message_opens_a_ticket_and_a_redelivery_changes_nothing(rig):
    await rig.client.publish(received("w1"))
    await rig.until(lambda: len(rig.out) == 2)
    assert keys(rig) == ["tickets.ticket.opened.v1", "tickets.ticket.message_received.v1"]
    opened = rig.out[0].payload.ticket
    assert (opened.number, opened.status, opened.customer.name) == (1, "INCOMPLETO", "Lucía")
    assert rig.out[1].payload.message.message_id == "w1"
    await rig.client.publish(received("w1"))  # the same webhook again
    await rig.client.publish(received("w2"))
    await rig.until(lambda: len(rig.out) == 3)
    await asyncio.sleep(0.1)
    assert keys(rig)[2:] == ["tickets.ticket.message_received.v1"]
    assert rig.out[2].payload.ticket.message_count == 2


async def test_bot_intake_moves_the_ticket_and_expiry_closes_it(rig):
    await rig.client.publish(received("w1"))
    await rig.until(lambda: len(rig.out) == 2)
    details = TicketDetails(delivery="pickup", order="12 de carne", name="Lucía")
    await rig.client.publish(new_envelope(bot.IntakeUpdated(ticket_id="x", number=1, type="PEDIDO", branch="centro",
                                                            details=details, missing=["notes"]),
                                          producer="bot", aggregate_id="c"))
    await rig.client.publish(new_envelope(bot.IntakeCompleted(ticket_id="x", number=1, type="PEDIDO", branch="centro",
                                                              details=details), producer="bot", aggregate_id="c"))
    await rig.until(lambda: "tickets.ticket.status_changed.v1" in keys(rig))
    completed = rig.out[-1].payload.ticket
    assert (completed.status, completed.branch, completed.details.order) == ("COMPLETO", "centro", "12 de carne")
    due = T0 + timedelta(hours=48)
    await rig.client.publish(new_envelope(scheduler.ExpiryDue(ticket_id="x", number=1, opened_at=T0, due_at=due),
                                          producer="scheduler", aggregate_id="x"))
    await rig.until(lambda: rig.out[-1].payload.ticket.status == "VENCIDO")
    assert rig.out[-1].payload.change.by.kind == "system"


async def test_change_status_command_answers_the_ticket_or_a_precise_refusal(rig):
    await rig.client.publish(received("w1"))
    await rig.until(lambda: len(rig.out) == 2)

    async def change(status: str, number: int = 1, command_id: str | None = None):
        command = ChangeStatus(actor=OPERATOR, number=number, status=status,
                               **({"command_id": command_id} if command_id else {}))
        return unwrap_reply(await rig.client.request("tickets", ChangeStatus.NAME, command.body(), timeout=5))

    taken = await change("EN PROCESO", command_id="cmd-1")
    assert taken["status"] == "EN PROCESO" and taken["history"][-1]["by"]["id"] == "ana"
    assert (await change("EN PROCESO", command_id="cmd-1"))["status"] == "EN PROCESO"  # a retried command
    with pytest.raises(CommandError) as refused:
        await change("COMPLETO")
    assert (refused.value.code, refused.value.status) == ("invalid_transition", 409)
    assert refused.value.details == {"current": "EN PROCESO", "requested": "COMPLETO"}
    with pytest.raises(CommandError) as missing:
        await change("FACTURADO", number=99)
    assert (missing.value.code, missing.value.status) == ("not_found", 404)
    with pytest.raises(CommandError) as unknown:
        await change("PAGADO")
    assert (unknown.value.code, unknown.value.status) == ("unknown_status", 422)
    assert (await change("FACTURADO"))["status"] == "FACTURADO"
