"""A send whose response is lost must not reach the customer twice.

WhatsApp's send call is not idempotent: if the request reached Meta but the answer never came back (a
read timeout, a connection dropped mid-response), sending again is a second message to the customer.
The chaos suite met exactly this when the Graph API was slow (15 s read timeouts, retried at once).
Such a send is now treated like a crash mid-send: its status webhook (which carries our key) gets the
grace period to say it went out; only if none comes is it sent again. A request that never left
(connection refused) is still retried at once.

The whole embedded system runs in process; only the link from chat to the (sandbox) Graph API is
made lossy, after the request has been delivered — or before, for the contrast.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.e2e.harness import ADMIN, APP_SECRET

pytestmark = pytest.mark.timeout(90)


class LossyLink(httpx.AsyncBaseTransport):
    """Forwards to the Graph API; the first ``lose`` message sends then fail as ``how``, after calling
    ``on_loss`` (to make chat busy right then)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, lose: int, how: str, on_loss=None) -> None:
        self.inner, self.lose, self.how, self.on_loss = inner, lose, how, on_loss

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        is_send = request.method == "POST" and request.url.path.endswith("/messages") \
            and b"biz_opaque_callback_data" in request.content
        if is_send and self.lose > 0:
            self.lose -= 1
            if self.how == "refused":  # never left: nothing reached WhatsApp
                raise httpx.ConnectError("connection refused", request=request)
            response = await self.inner.handle_async_request(request)  # WhatsApp accepted it…
            await response.aclose()
            if self.on_loss is not None:
                await self.on_loss()
            raise httpx.ReadTimeout("…but the answer never came", request=request)
        return await self.inner.handle_async_request(request)


async def flood_chat(system, events: int = 300, seconds_each: float = 1.0) -> None:
    """A backlog in chat's inbox: work for other customers that takes a while (as after a crash, when
    everything queued meanwhile arrives at once)."""
    from datetime import UTC, datetime

    from mostrador.events.envelope import new_envelope
    from mostrador.events.schemas.scheduler import WindowClosed

    [subscription] = [s for s in system.bus.subscriptions if s.service == "chat"]
    handle = subscription.handler

    async def slow(envelope):
        if isinstance(envelope.payload, WindowClosed) and envelope.payload.customer_key.startswith("busy-"):
            await asyncio.sleep(seconds_each)
        await handle(envelope)

    subscription.handler = slow
    now = datetime.now(UTC)
    await system.bus.publish_many([new_envelope(WindowClosed(customer_key=f"busy-{i}", last_inbound_at=now,
                                                             closed_at=now), producer="scheduler",
                                                aggregate_id=f"busy-{i}") for i in range(events)])


async def run(tmp_path, how: str, busy: bool = False) -> dict:
    from deploy.embedded import build_embedded
    from mostrador.platform.settings import Settings

    settings = Settings(data_dir=tmp_path / how, database_url=None, amqp_url=None,  # SQLite, whatever the env
                        whatsapp_app_secret=APP_SECRET, admin_username=ADMIN[0],
                        admin_password=ADMIN[1], log_level="WARNING", log_format="console",
                        chat_send_grace_seconds=2.0)
    system = build_embedded(settings)
    client = system.services["chat"].parts["client"]
    client._http._transport = LossyLink(client._http._transport, lose=1, how=how,
                                        on_loss=(lambda: flood_chat(system)) if busy else None)
    state = system.fake_graph.state.fake
    client_ = httpx.AsyncClient(transport=httpx.ASGITransport(app=system.app), base_url="http://m")
    async with system.app.router.lifespan_context(system.app), client_ as http:
            said = await http.post("/sandbox/graph/_fake/inbound",
                                   json={"wa_id": "5491100000091", "name": "Lucía", "text": "Hola"})
            assert said.json()["status_code"] == 200
            deadline = asyncio.get_running_loop().time() + 30
            while not state.sends_per_key or any(
                    m["status"] == "pending" for m in system.services["chat"].parts["app"].conversation(
                        "5491100000091").messages.values() if m["direction"] == "out"):
                assert asyncio.get_running_loop().time() < deadline, "the reply never went out"
                await asyncio.sleep(0.05)
            await asyncio.sleep(2.5 if not busy else 6.0)  # past the grace period (and the backlog)
    return dict(state.sends_per_key)


async def test_a_send_whose_answer_was_lost_is_not_sent_again(tmp_path):
    sends = await run(tmp_path, "lost-answer")
    assert len(sends) == 1 and list(sends.values()) == [1], f"the customer got the reply {sends} times"


async def test_a_send_that_never_left_is_retried_and_arrives_once(tmp_path):
    sends = await run(tmp_path, "refused")
    assert list(sends.values()) == [1], sends


async def test_a_lost_answer_is_resolved_by_its_status_even_while_chat_is_busy(tmp_path):
    """The status that proves the send went out must not queue behind other work: with a few seconds
    of backlog in chat's inbox and a 2 s grace period, it used to come too late (a second send)."""
    sends = await run(tmp_path, "lost-answer", busy=True)
    assert list(sends.values()) == [1], f"the customer got the reply {sends} times"
