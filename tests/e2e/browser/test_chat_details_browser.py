"""What the API tests cannot see: an order's details filling in under its row (+) while the customer
talks to the bot, and the chat's photo, location and failed bubbles — with a Retry that really sends.

The steps share one system and one logged-in page and run in file order (each builds on the last)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.browser.browser_rig import chromium, log_in, png, running_system
from tests.e2e.customer import Customer, options_of

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(120)]

DIEGO = ("5491100000011", "Diego")
OBELISCO = {"latitude": -34.6037389, "longitude": -58.3815704, "location_name": "Obelisco",
            "address": "Av. 9 de Julio s/n"}
MAP_LINK = re.compile(r"^https://www\.openstreetmap\.org/\?mlat=-34\.603739&mlon=-58\.381570")
ORDER = "2 docenas de carne y 1 de humita"
NOTES = "Sin cebolla, el timbre no anda"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with running_system(tmp_path_factory.mktemp("chat-details")) as system, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="es-AR")
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        log_in(page, system.base_url)
        yield {"system": system, "page": page, "diego": Customer(system.graph_url, *DIEGO)}
        assert errors == [], errors  # no uncaught script error in any step


def row(page, number: int):
    return page.locator(f"tr.row[data-number='{number}']")


def test_the_expanded_row_fills_in_while_the_customer_orders(world):
    page, diego = world["page"], world["diego"]
    diego.say("Hola")
    diego.replies()
    row(page, 1).locator(".plus").click()
    details = page.locator("tr[data-details='1']")
    details.locator(".history").wait_for()
    for title in ("Hacer un pedido", "Sucursal Centro", "Envío a domicilio"):
        diego.tap(title)
        diego.replies()
    diego.send(type="location", **OBELISCO)
    diego.replies()
    diego.say("Piso 3 B")  # the reference the bot offers after a pin
    diego.replies()
    diego.say(ORDER)
    diego.replies()

    # Live, without closing the row: the address with its reference, the pin's map link, the order …
    expect(details.locator("dd", has_text="Piso 3 B")).to_have_text("Obelisco, Av. 9 de Julio s/n — Piso 3 B")
    pin = details.locator("a.map-link")
    expect(pin).to_have_attribute("href", MAP_LINK)
    expect(pin).to_have_attribute("target", "_blank")
    expect(details.locator("dd", has_text=ORDER)).to_have_count(1)
    # … and what is still missing, highlighted: only the name (notes are optional).
    expect(details.locator(".missing-list")).to_have_text("Faltan datos: Nombre")
    expect(details.locator("dt.missing")).to_have_text(["Nombre"])

    diego.tap(options_of(diego.last_interactive())[0])  # «Sí, soy Diego»: the profile name
    diego.replies()
    diego.say(NOTES)
    diego.replies()  # the summary
    expect(details.locator("dd", has_text=NOTES)).to_have_count(1)
    diego.tap("Confirmar")
    diego.replies()

    expect(row(page, 1).locator(".status-badge")).to_have_text("COMPLETO")
    expect(details.locator(".missing-list")).to_have_count(0)  # nothing missing once COMPLETO
    expect(details.locator("dt.missing")).to_have_count(0)
    history = details.locator(".history li")
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text("INCOMPLETO")
    expect(history.nth(0)).to_contain_text("por Sistema")
    expect(history.nth(1)).to_contain_text("INCOMPLETO → COMPLETO")
    expect(history.nth(1)).to_contain_text("por Bot")


def test_photo_and_location_bubbles_in_the_chat(world):
    page, system, diego = world["page"], world["system"], world["diego"]
    row(page, 1).locator("select.status-change").select_option("EN PROCESO")
    expect(row(page, 1).locator(".status-badge")).to_have_text("EN PROCESO")
    photo = png(120, 90, (230, 126, 34))
    media = system.upload_media(photo, "image/png")
    diego.send(type="image", media_id=media["id"], mime_type="image/png", caption="Te paso el comprobante")
    row(page, 1).locator(".phone-link").click()

    bubble = page.locator(".bubble.in", has_text="Te paso el comprobante")
    image = bubble.locator("img")
    expect(image).to_have_attribute("src", f"/api/media/{media['id']}")
    expect(image).to_have_js_property("naturalWidth", 120)  # drawn: the bytes arrived and decode
    served = page.request.get(system.base_url + image.get_attribute("src"))  # with the operator's cookie
    assert served.ok and served.body() == photo

    pin = page.locator(".bubble.in", has_text="Obelisco")
    expect(pin).to_contain_text("📍 Obelisco · Av. 9 de Julio s/n")
    link = pin.get_by_role("link", name="Ver en el mapa")
    expect(link).to_have_attribute("href", MAP_LINK)
    expect(link).to_have_attribute("rel", "noopener noreferrer")


def test_a_failed_send_shows_its_reason_and_retry_sends_it(world):
    page, system, diego = world["page"], world["system"], world["diego"]
    system.fail_next_send(DIEGO[0], 131026)  # «Message Undeliverable»: permanent, never retried by itself
    page.fill("#chat-input", "Te llega a las 21 h")
    page.keyboard.press("Enter")

    mine = page.locator(".bubble.out", has_text="Te llega a las 21 h")
    expect(mine).to_have_attribute("data-status", "failed", timeout=10_000)
    expect(mine.locator(".ticks.failed")).to_have_text("⚠")
    expect(mine.locator(".error")).to_contain_text("No enviado: (#131026) Message Undeliverable")
    assert not [m for m in diego.outbound() if "21 h" in str(m["body"])]  # WhatsApp took nothing

    mine.get_by_role("button", name="Reintentar").click()
    expect(mine.locator(".ticks.delivered")).to_have_text("✓✓", timeout=10_000)
    expect(mine).to_have_attribute("data-status", "delivered")
    expect(mine.locator(".error")).to_have_count(0)
    assert len([m for m in diego.outbound() if "21 h" in str(m["body"])]) == 1  # sent once, by the retry
