"""One customer message's events, in every service they pass through, carry the correlation id of the
webhook's event and name what caused each — so one grep of the logs follows it (envelope.HANDLING)."""

from __future__ import annotations

import pytest

from tests.e2e.harness import fixture_now, post_webhook, wait_for

pytestmark = pytest.mark.timeout(120)


def test_a_customer_message_and_everything_it_causes_share_its_correlation(embedded):
    server, system = embedded()
    published = []
    publish = system.bus.publish

    async def recording(envelope, **kwargs):
        published.append(envelope)
        await publish(envelope, **kwargs)

    system.bus.publish = recording  # every publisher goes through it: the webhook, every relay
    with server:
        assert post_webhook(server.base_url, fixture_now("text_hola.json")).status_code == 200
        by_type = wait_for(lambda: {e.routing_key: e for e in published},
                           lambda seen: {"chat.send.requested.v1", "chat.message.recorded.v1"} <= set(seen))
    message = by_type["ingest.message.received.v1"]
    assert message.correlation_id == message.event_id and message.causation_id is None
    caused = [e for e in published if e.producer != "ingest"]
    chain = {e.routing_key for e in caused if e.correlation_id == message.event_id}
    # tickets opened the ticket, the bot asked for its greeting, chat recorded both and sent it
    assert {"tickets.ticket.opened.v1", "bot.reply.requested.v1", "chat.send.requested.v1",
            "chat.message.recorded.v1"} <= chain, [(e.routing_key, e.correlation_id) for e in caused]
    assert by_type["tickets.ticket.opened.v1"].causation_id == message.event_id
    assert by_type["chat.send.requested.v1"].causation_id == by_type["bot.reply.requested.v1"].event_id
    # a delivery status is a new message from Meta: its own chain, not the customer's
    statuses = [e for e in published if e.routing_key == "ingest.message.status.v1"]
    assert all(e.correlation_id == e.event_id for e in statuses)
