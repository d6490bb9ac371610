"""A person plays a customer in the simulator against the embedded system (`make run`): writes,
taps the bot's reply buttons and list rows, shares a pin, invents a customer and sends a photo —
and the ticket fills in on the panel, and the operator's reply comes back live with its ticks."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.browser.browser_rig import chromium, png, running_system, until

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


def test_invent_a_customer_send_a_photo_and_see_the_operators_reply(tmp_path):
    photo = png(96, 64, (52, 152, 219))
    (tmp_path / "comprobante.png").write_bytes(photo)
    with running_system(tmp_path) as world, chromium() as browser:
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        page.goto(f"{world.base_url}/simulator")
        page.fill("#new-customer input[name='name']", "Valentina Ruiz")
        page.fill("#new-customer input[name='phone']", "+54 9 11 5555-0123")
        page.click("#new-customer button[type='submit']")
        expect(page.locator("#customers li.active")).to_contain_text("Valentina Ruiz")
        expect(page.locator("#chat-sub")).to_have_text("+5491155550123")

        page.fill("#text", "Te paso el comprobante")  # what is typed goes as the photo's caption
        page.click("#btn-attach")
        with page.expect_file_chooser() as chooser:
            page.click("#panel-attach [data-action='photo']")
        chooser.value.set_files(tmp_path / "comprobante.png")
        mine = page.locator(".bubble.mine", has_text="Te paso el comprobante")
        expect(mine.locator("img")).to_have_js_property("naturalWidth", 96)
        expect(mine.locator(".tick")).to_have_text("✓✓", timeout=15000)  # our webhook answered 200

        api = world.api()
        ticket = until(lambda: (r := api.get("/api/tickets/1")).status_code == 200 and r.json())
        assert (ticket["name"], ticket["phone"]) == ("Valentina Ruiz", "5491155550123")
        image = until(lambda: next((m for m in api.get("/api/tickets/1/messages").json()["items"]
                                    if m["type"] == "image"), None))
        assert image["media"]["caption"] == "Te paso el comprobante"
        assert until(lambda: (r := api.get(image["media"]["url"])).status_code == 200 and r).content == photo

        assert api.post("/api/tickets/1/status", json={"status": "EN PROCESO"}).status_code == 200
        sent = api.post("/api/tickets/1/messages", json={"text": "¡Recibido, Valentina! Sale a las 21 h"})
        assert sent.status_code == 202, sent.text
        reply = page.locator(".bubble.theirs", has_text="¡Recibido, Valentina! Sale a las 21 h")
        expect(reply).to_be_visible(timeout=15000)  # live, no reload
        expect(reply.locator(".tick.read")).to_have_text("✓✓", timeout=15000)  # she is looking at the chat
        message_id = sent.json()["message"]["message_id"]
        until(lambda: any(m["message_id"] == message_id and m["status"] == "read"
                          for m in api.get("/api/tickets/1/messages").json()["items"]))  # the panel sees it read
