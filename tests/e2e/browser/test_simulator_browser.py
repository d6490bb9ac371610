"""A person plays a customer in the simulator against the embedded system (`make run`): writes,
taps the bot's reply buttons and list rows, shares a pin — and the ticket fills in on the panel."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.browser.browser_rig import chromium, running_system, until

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(180)]


def test_play_a_customer_through_an_order(tmp_path):
    with running_system(tmp_path) as world, chromium() as browser:
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        page.goto(f"{world.base_url}/simulator")
        page.locator("#customers li", has_text="Lucía").click()
        page.fill("#text", "Hola")
        page.press("#text", "Enter")

        greeting = page.locator(".bubble.theirs").last
        expect(greeting).to_contain_text("Te damos la bienvenida", timeout=15000)
        greeting.get_by_role("button", name="Hacer un pedido").click()

        branches = page.locator(".bubble.theirs").last
        expect(branches).to_contain_text("sucursal", timeout=15000)
        branches.get_by_role("button", name="Ver sucursales").click()
        page.locator("#list-rows .option", has_text="Sucursal Centro").click()

        delivery = page.locator(".bubble.theirs").last
        expect(delivery).to_contain_text("domicilio", timeout=15000)
        delivery.get_by_role("button", name="Envío a domicilio").click()
        ask_address = page.locator(".bubble.theirs").last
        expect(ask_address).to_contain_text("dirección", timeout=15000)
        ask_address.get_by_role("button", name="Enviar ubicación").click()
        page.click("#send-location")
        expect(page.locator(".bubble.theirs").last).to_contain_text("ubicación", timeout=15000)

        api = world.api()
        ticket = until(lambda: (t := api.get("/api/tickets/1").json()).get("branch") == "centro"
                       and t["details"].get("location") and t)
        assert ticket["status"] == "INCOMPLETO" and ticket["details"]["delivery"] == "delivery"
        assert ticket["details"]["location"]["latitude"] == pytest.approx(-34.6037389)
        # The business's messages show WhatsApp ticks; the customer has read them by looking.
        expect(page.locator(".bubble.theirs .tick.read").first).to_be_visible(timeout=15000)
