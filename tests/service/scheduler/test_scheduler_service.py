"""The scheduler on the in-memory bus with a FakeClock: deadlines survive a restart, fire once, move
with new messages, and a ticket closed in time never gets an expiry."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from mostrador.events.envelope import new_envelope
from mostrador.events.memory import InMemoryBroker, InMemoryBus
from mostrador.events.schemas.common import Customer
from mostrador.events.schemas.tickets import StatusChange, StatusChanged, TicketOpened, TicketState
from mostrador.platform.clock import FakeClock
from mostrador.platform.service import Context
from mostrador.platform.settings import Settings
from mostrador.scheduler.service import build

T0 = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)


def ticket(number: int, version: int = 1, status: str = "INCOMPLETO", last: datetime = T0) -> TicketState:
    key = f"54911000000{number:02d}"
    return TicketState(ticket_id=f"t{number}", number=number, version=version, customer=Customer(key=key, wa_id=key),
                       type="PEDIDO", status=status, opened_at=T0, first_message_id="w", last_message_at=last,
                       last_message_id="w")


class Rig:
    def __init__(self, tmp_path, broker: InMemoryBroker, clock: FakeClock) -> None:
        self.bus = InMemoryBus(broker)
        self.fired: list = []

        async def collect(envelope):
            self.fired.append(envelope)

        self.bus.subscribe("observer", ["scheduler.#"], collect)
        settings = Settings(data_dir=tmp_path, ticket_expiry_hours=48, chat_window_hours=24,
                            scheduler_poll_seconds=3600)
        self.service = build(Context(settings=settings, bus=self.bus, clock=clock))
        self.timer = self.service.parts["timer"]

    async def __aenter__(self):
        await self.bus.start()
        await self.service.start()
        return self

    async def __aexit__(self, *exc):
        await self.bus.drain()
        await self.service.stop()
        await self.bus.close()

    async def feed(self, payload) -> None:
        await self.bus.publish(new_envelope(payload, producer="tickets", aggregate_id=payload.ticket.ticket_id,
                                            aggregate_version=payload.ticket.version))
        for _ in range(20):
            await asyncio.sleep(0.005)

    def kinds(self) -> list[tuple[str, object]]:
        return [(e.payload.TYPE, getattr(e.payload, "number", None)) for e in self.fired]


@pytest.fixture
def clock():
    return FakeClock(T0)


async def test_expiry_and_window_fire_once_at_their_time_and_survive_a_restart(tmp_path, clock):
    broker = InMemoryBroker()
    async with Rig(tmp_path, broker, clock) as rig:
        await rig.feed(TicketOpened(ticket=ticket(1)))
        clock.advance(hours=23, minutes=59)
        assert await rig.timer.tick() == 0
    clock.advance(minutes=2)
    async with Rig(tmp_path, broker, clock) as rig:  # a restarted scheduler still knows its deadlines
        await rig.timer.tick()
        await asyncio.sleep(0.05)
        assert rig.kinds() == [("scheduler.window.closed", 1)]
        clock.advance(hours=24)
        assert await rig.timer.tick() == 1
        assert await rig.timer.tick() == 0  # fired once
        await asyncio.sleep(0.05)
        assert rig.kinds() == [("scheduler.window.closed", 1), ("scheduler.ticket.expiry_due", 1)]
        expiry = rig.fired[-1]
        assert expiry.payload.due_at == T0 + timedelta(hours=48)


async def test_a_ticket_closed_in_time_is_never_expired_and_new_messages_move_the_window(tmp_path, clock):
    async with Rig(tmp_path, InMemoryBroker(), clock) as rig:
        await rig.feed(TicketOpened(ticket=ticket(1)))
        await rig.feed(TicketOpened(ticket=ticket(2)))
        closed = ticket(1, version=5, status="FACTURADO")
        change = StatusChange(from_status="EN PROCESO", to_status="FACTURADO", at=T0, by={"kind": "operator"})
        await rig.feed(StatusChanged(ticket=closed, change=change))
        await rig.feed(StatusChanged(ticket=ticket(1, version=3, status="EN PROCESO"), change=change))  # late, older
        later = ticket(2, version=2, last=T0 + timedelta(hours=10))  # a new customer message
        await rig.feed(StatusChanged(ticket=later, change=change))
        clock.advance(hours=49)
        await rig.timer.tick()
        await asyncio.sleep(0.05)
        assert sorted(rig.kinds()) == [("scheduler.ticket.expiry_due", 2), ("scheduler.window.closed", 1),
                                       ("scheduler.window.closed", 2)]
        window_2 = next(e for e in rig.fired if e.payload.TYPE == "scheduler.window.closed" and e.payload.number == 2)
        assert window_2.payload.closed_at == T0 + timedelta(hours=34)


async def test_a_crash_between_publish_and_mark_republishes_the_same_event_id(tmp_path, clock, monkeypatch):
    broker = InMemoryBroker()
    async with Rig(tmp_path, broker, clock) as rig:
        await rig.feed(TicketOpened(ticket=ticket(1)))
        clock.advance(hours=25)
        monkeypatch.setattr(rig.timer.deadlines, "mark_fired", lambda *a: (_ for _ in ()).throw(SystemExit()))
        with pytest.raises(SystemExit):
            await rig.timer.tick()
        monkeypatch.undo()
        await rig.timer.tick()
        await asyncio.sleep(0.05)
        first, again = rig.fired
        assert first.event_id == again.event_id  # consumers recognise the repeat
