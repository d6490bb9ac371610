"""What a message's log lines are bound with: its ids, and the ticket and customer it is about,
wherever the payload's schema keeps them."""

from datetime import UTC, datetime

import pytest

from mostrador.events.envelope import new_envelope
from mostrador.events.schemas import ingest, scheduler, tickets
from mostrador.events.schemas.common import Customer

pytestmark = pytest.mark.unit

T0 = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)
CARO = Customer(key="AR.4470192837465019", user_id="AR.4470192837465019", name="Caro")


def context(payload):
    return new_envelope(payload, producer="test", aggregate_id="a").log_context()


def test_ids_always_and_the_correlation_defaults_to_the_event():
    ctx = context(scheduler.WindowClosed(customer_key=CARO.key, last_inbound_at=T0, closed_at=T0))
    assert ctx["correlation_id"] == ctx["event_id"] and ctx["event_type"] == "scheduler.window.closed.v1"
    assert ctx["customer"] == CARO.key and "ticket" not in ctx


def test_the_ticket_and_customer_of_a_ticket_event():
    state = tickets.TicketState(ticket_id="t7", number=7, version=1, customer=CARO, type="PEDIDO",
                                status="INCOMPLETO", opened_at=T0, first_message_id="w", last_message_at=T0,
                                last_message_id="w")
    ctx = context(tickets.TicketOpened(ticket=state))
    assert (ctx["ticket"], ctx["customer"]) == (7, CARO.key)


def test_the_customer_of_a_message_and_of_a_status():
    message = ingest.InboundMessage(message_id="w1", phone_number_id="1", timestamp=T0, type="text", text="Hola",
                                    customer=CARO)
    assert context(ingest.MessageReceived(message=message))["customer"] == CARO.key
    status = ingest.StatusReceived(message_id="w2", phone_number_id="1", status="sent", timestamp=T0,
                                   recipient=CARO)
    assert context(status)["customer"] == CARO.key
