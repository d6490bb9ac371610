"""The customer simulator page and its only way into the system: the signed /_fake/inbound webhook."""

import json
import re

import httpx
import pytest
from fastapi import FastAPI

from mostrador.events.schemas.common import Customer
from mostrador.whatsapp.fakegraph import create_fake_graph
from mostrador.whatsapp.simulator import simulator_router
from mostrador.whatsapp.webhook import parse_webhook
from tests.service.whatsapp.whatsapp_rig import SECRET, make_receiver

pytestmark = pytest.mark.service


@pytest.fixture
async def sim():
    receiver = make_receiver()
    graph = create_fake_graph(
        app_secret=SECRET,
        webhook_url="http://app/webhooks/whatsapp",
        webhook_transport=httpx.ASGITransport(receiver.app),
        status_delays=(0, 0),
    )
    graph.include_router(simulator_router(graph, business_name="Empanadas </script><b>Rosa</b>"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(graph), base_url="http://fake") as browser:
        yield browser, receiver, graph
    await graph.state.fake.settle()


async def test_page_and_static_files_are_served(sim):
    browser, _, _ = sim
    page = await browser.get("/simulator")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="es">' in page.text
    assert (
        'src="/simulator/static/simulator.js"' in page.text
        and 'href="/simulator/static/simulator.css"' in page.text
    )
    config = re.search(
        r'<script id="sim-config" type="application/json">(.*?)</script>', page.text, re.DOTALL
    ).group(1)
    settings = json.loads(config)
    assert settings["api"] == "" and settings["business"]["name"] == "Empanadas </script><b>Rosa</b>"
    assert [c["name"] for c in settings["presets"]] == ["Lucía Fernández", "Martín Gómez", "Sofía", "Caro"]
    assert settings["presets"][3] == {
        "key": "AR.4470192837465019",
        "wa_id": None,
        "user_id": "AR.4470192837465019",
        "name": "Caro",
        "username": "@caro.compras",
    }
    assert "</script><b>" not in page.text  # the config cannot break out of its <script> block
    js = await browser.get("/simulator/static/simulator.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "/_fake/inbound" in js.text and "textContent" in js.text and "innerHTML" not in js.text
    css = await browser.get("/simulator/static/simulator.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert (await browser.get("/simulator/config.json")).json()["presets"][3]["username"] == "@caro.compras"


@pytest.mark.parametrize("name", ["simulator.html", "../fakegraph.py", "..%2Ffakegraph.py", "nope.js"])
async def test_only_listed_assets_are_served(sim, name):
    browser, _, _ = sim
    assert (await browser.get(f"/simulator/static/{name}")).status_code == 404


async def test_simulated_text_becomes_a_signed_meta_webhook(sim):
    browser, receiver, _ = sim
    answer = await browser.post(
        "/_fake/inbound",
        json={
            "wa_id": "5491100000002",
            "name": "Martín Gómez",
            "type": "text",
            "text": "<b>2 docenas</b> de carne",
        },
    )
    result = answer.json()
    assert answer.status_code == 200 and result["status_code"] == 200 and result["attempts"] == 1
    [received] = receiver.received
    assert received.signed
    [message] = parse_webhook(received.raw).messages
    assert message.message_id == result["wamid"]
    assert message.customer == Customer(
        key="5491100000002", wa_id="5491100000002", user_id="AR.2284710093857461", name="Martín Gómez"
    )
    assert message.type == "text" and message.text == "<b>2 docenas</b> de carne"
    assert message.phone_number_id == "109876543210987"


async def test_router_respects_prefixes_and_root_path():
    graph = create_fake_graph(app_secret=SECRET, webhook_url=None)
    outer = FastAPI()
    outer.include_router(simulator_router(graph.state.fake, api_prefix="/sandbox/graph/", path="/play/"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(outer, root_path="/desk"), base_url="http://x"
    ) as browser:
        page = await browser.get("/play")
    assert '"api": "/desk/sandbox/graph"' in page.text
    assert 'src="/desk/play/static/simulator.js"' in page.text
