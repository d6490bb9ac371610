"""An operator's day in a real Chromium against the whole embedded system: customers write through the
sandbox WhatsApp (signed webhooks), the bot answers, the operator works the Pedidos board and chats.

The steps share one system and one logged-in page and run in file order (each builds on the last)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.browser.browser_rig import ADMIN, chromium, running_system, screenshot, until

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(120)]

LUCIA, MARTIN, SOFIA = "5491100000001", "5491100000002", "5491100000003"
WINDOW_HOURS = 0.005  # 18 s: the 24 h window, shrunk so the test sees it close
XSS = '<img src=x onerror=alert(1)> <script>alert(2)</script> hola'


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with running_system(tmp_path_factory.mktemp("browser"), chat_window_hours=WINDOW_HOURS) as system, \
            chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="es-AR")
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield {"system": system, "page": page, "dialogs": dialogs, "errors": errors, "browser": browser}
        assert errors == [], errors  # no uncaught script error during the whole day


def row(page, number: int):
    return page.locator(f"tr.row[data-number='{number}']")


def visible_numbers(page) -> list[int]:
    # Locators and expect() only: our CSP forbids eval, so page.wait_for_function cannot run here.
    return [int(r.get_attribute("data-number")) for r in page.locator("tr.row").all()]


def rows(page):
    return page.locator("tr.row")


def sent(bubble) -> None:
    """Wait for an outbound message to leave the chat service. A failed send is a test failure, always:
    the ticks and the screenshot after it would check nothing."""
    until(lambda: bubble.get_attribute("data-status") != "pending", timeout=10)
    status = bubble.get_attribute("data-status")
    reason = bubble.locator(".error").inner_text() if status == "failed" else ""
    assert status != "failed", f"the chat service could not send this message: {reason}"


def test_login_and_a_ticket_arrives_live(world):
    page, system = world["page"], world["system"]
    page.goto(system.base_url + "/")
    page.fill("#login-username", ADMIN[0])
    page.fill("#login-password", "wrong-password")
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#login-error:not([hidden])")
    assert "incorrectos" in page.inner_text("#login-error")
    page.fill("#login-password", ADMIN[1])
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#board-empty:not([hidden])")
    page.wait_for_selector("#live-state[data-state='on']")
    system.customer_says(LUCIA, "Lucía Fernández", "hola")
    row(page, 1).wait_for()  # no reload: it came over the stream
    assert "Lucía Fernández" in row(page, 1).inner_text() and "INCOMPLETO" in row(page, 1).inner_text()
    system.customer_says(MARTIN, "Martín Gómez", "buenas")
    row(page, 2).wait_for()
    # Sofía asks for a person through the bot's menu and lists: an AYUDA ticket, COMPLETO, with branch and topic.
    api = system.api()
    system.customer_says(SOFIA, "Sofía", "hola")
    row(page, 3).wait_for()
    for title in ("Hablar con operador", "Reclamo", "Sucursal Palermo"):
        system.customer_chooses(api, 3, SOFIA, "Sofía", title)
    expect(row(page, 3).locator(".status-badge")).to_have_text("COMPLETO")
    assert "Sucursal Palermo" in row(page, 3).inner_text() and "Reclamo" in row(page, 3).inner_text()
    assert visible_numbers(page) == [3, 2, 1]
    expect(page.locator("#unread-toggle")).to_have_class(re.compile("has-unread"))
    expect(row(page, 2)).to_have_class(re.compile("unread-row"))  # bold until read


def test_filter_search_and_expand(world):
    page = world["page"]
    page.select_option("#filter-type", "AYUDA")
    expect(rows(page)).to_have_count(1)
    assert visible_numbers(page) == [3]
    page.select_option("#filter-type", "")
    page.select_option("#filter-branch", "palermo")
    page.select_option("#filter-topic", "reclamo")
    expect(rows(page)).to_have_count(1)
    page.select_option("#filter-topic", "estado")  # palermo AND estado: nobody
    page.wait_for_selector("#board-empty:not([hidden])")
    page.select_option("#filter-topic", "")
    page.select_option("#filter-branch", "")
    expect(rows(page)).to_have_count(3)
    page.click("#filter-status summary")
    page.check("#filter-status input[value='INCOMPLETO']")
    expect(rows(page)).to_have_count(2)
    page.check("#filter-status input[value='FACTURADO']")
    page.uncheck("#filter-status input[value='INCOMPLETO']")
    page.wait_for_selector("#board-empty:not([hidden])")
    page.uncheck("#filter-status input[value='FACTURADO']")
    page.click("#filter-status summary")
    page.fill("#search", "0000002")  # the end of Martín's phone
    expect(rows(page)).to_have_count(1)
    assert visible_numbers(page) == [2]
    page.fill("#search", "1")  # ticket number 1
    expect(rows(page).first).to_have_attribute("data-number", "1")
    expect(rows(page)).to_have_count(1)
    page.fill("#search", "")
    expect(rows(page)).to_have_count(3)
    row(page, 1).locator(".plus").click()
    details = page.locator("tr[data-details='1']")
    details.locator(".history").wait_for()
    assert "Historial de estados" in details.inner_text() and "INCOMPLETO" in details.inner_text()
    assert "5491100000001" in details.inner_text()


def test_take_the_ticket(world):
    page = world["page"]
    row(page, 1).locator("select.status-change").select_option("EN PROCESO")
    expect(row(page, 1).locator(".status-badge")).to_have_text("EN PROCESO")
    history = page.locator("tr[data-details='1'] .history")
    history.get_by_text("Administrador").wait_for()  # who took it, in the history
    options = row(page, 1).locator("select.status-change option").all_inner_texts()
    assert options[1:] == ["FACTURADO", "CANCELADO", "RESUELTO", "NO CONTESTA"]


def test_chat_both_ways(world):
    page, system = world["page"], world["system"]
    row(page, 1).locator(".phone-link").click()
    page.wait_for_selector("#chat:not([hidden]) .bubble")
    assert page.locator(".bubble.in").first.inner_text().startswith("hola")
    bot = page.locator(".bubble.out").first
    assert "Bot" in bot.locator(".author").inner_text() and bot.locator(".option").count() == 3  # menu buttons
    expect(row(page, 1).locator(".unread-pill")).to_have_count(0)  # opening the chat marked it read
    system.customer_says(LUCIA, "Lucía Fernández", "¿Tienen empanadas de carne?")
    page.locator(".bubble.in", has_text="¿Tienen empanadas de carne?").wait_for()  # live, customer side
    assert page.locator("#chat-input").is_enabled()
    assert re.search(r"quedan 0:00:\d\d", page.inner_text("#chat-window"))  # the live countdown
    page.fill("#chat-input", "¡Sí! ¿Cuántas docenas?")
    page.keyboard.press("Enter")
    mine = page.locator(".bubble.out", has_text="¡Sí! ¿Cuántas docenas?")
    mine.wait_for()
    assert "Administrador" in mine.locator(".author").inner_text()
    sent(mine)
    until(lambda: any("¿Cuántas docenas?" in str(m["body"]) for m in system.sends_to(LUCIA)))
    delivered = page.locator(".bubble.out[data-status='delivered']", has_text="¿Cuántas docenas?")
    expect(delivered.locator(".ticks.delivered")).to_have_text("✓✓", timeout=10_000)
    system.customer_reads(LUCIA)
    read = page.locator(".bubble.out[data-status='read']", has_text="¿Cuántas docenas?")
    expect(read.locator(".ticks.read")).to_have_text("✓✓", timeout=10_000)  # blue ticks
    screenshot(page, "screenshot-chat.png")


def test_customer_html_is_shown_as_text(world):
    page, system = world["page"], world["system"]
    system.customer_says(LUCIA, "Lucía Fernández", XSS)
    bubble = page.locator(".bubble.in", has_text="<script>alert(2)</script>")
    bubble.wait_for()
    assert XSS in bubble.inner_text()
    assert page.locator(".bubble img[src='x']").count() == 0 and page.locator(".bubble script").count() == 0
    page.wait_for_timeout(300)
    assert world["dialogs"] == []


def test_unread_indicator_and_sort_by_last_message(world):
    page, system = world["page"], world["system"]
    page.click("#chat-close")
    system.customer_says(MARTIN, "Martín Gómez", "¿siguen abiertos?")
    expect(page.locator("#unread-toggle")).to_have_class(re.compile("has-unread"))
    page.click("#unread-toggle")  # the red indicator filters to tickets with unread messages
    expect(rows(page)).to_have_count(2)
    assert visible_numbers(page) == [3, 2]  # Lucía's chat was read when it was opened
    expect(row(page, 2)).to_have_class(re.compile("unread-row"))
    page.click("#unread-toggle")
    expect(rows(page)).to_have_count(3)
    page.click("#sort-toggle")
    expect(rows(page).first).to_have_attribute("data-number", "2")
    page.wait_for_timeout(1100)  # WhatsApp timestamps have whole seconds: make this one clearly newer
    system.customer_says(LUCIA, "Lucía Fernández", "Quiero 2 docenas")
    expect(rows(page).first).to_have_attribute("data-number", "1")  # newest customer message first
    expect(row(page, 1)).to_have_class(re.compile("unread-row"))
    screenshot(page, "screenshot-board.png")


def test_window_closes_and_contact_is_resumed(world):
    page, system = world["page"], world["system"]
    row(page, 1).locator(".phone-link").click()
    page.locator(".bubble.in", has_text="Quiero 2 docenas").wait_for()
    page.wait_for_selector("#chat-resume:not([hidden])", timeout=30_000)  # the window closed
    assert page.locator("#chat-input").is_disabled()
    assert "24 h" in page.inner_text("#chat-window")
    page.click("#chat-resume")
    page.wait_for_selector("#confirm-dialog[open]")
    page.click("#confirm-ok")
    template = page.locator(".bubble.out", has_text="Plantilla")
    template.wait_for()
    system.customer_says(LUCIA, "Lucía Fernández", "¡Sí! Sigo acá")
    page.locator(".bubble.in", has_text="Sigo acá").wait_for()
    expect(page.locator("#chat-input")).to_be_enabled()  # the chat goes on as usual
    sent(template)
    until(lambda: any(m["type"] == "template" for m in system.sends_to(LUCIA)))


def test_close_it_facturado(world):
    page = world["page"]
    row(page, 1).locator("select.status-change").select_option("FACTURADO")
    expect(row(page, 1).locator(".status-badge")).to_have_text("FACTURADO")
    expect(page.locator("#chat-input")).to_be_disabled()
    assert "Ticket cerrado (FACTURADO)" in page.inner_text("#chat-window")
    assert row(page, 1).locator("select.status-change").count() == 0  # a final status offers nothing more


def test_phone_layout_and_english(world):
    system, browser = world["system"], world["browser"]
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone.goto(system.base_url + "/")
    phone.click("#login-view [data-lang-toggle]")
    assert phone.inner_text("#login-form button[type=submit]") == "Log in"
    phone.fill("#login-username", ADMIN[0])
    phone.fill("#login-password", ADMIN[1])
    phone.click("#login-form button[type=submit]")
    row(phone, 2).wait_for()
    assert phone.inner_text("#board-view h2") == "Orders" and "EN PROCESO" not in phone.inner_text("#board-view h2")
    row(phone, 2).locator(".phone-link").click()
    phone.wait_for_selector("#chat:not([hidden]) .bubble")
    box = phone.locator("#chat").bounding_box()
    assert box["width"] == 390 and box["height"] >= 800  # the chat is a full-screen view on a phone
    phone.reload()
    phone.wait_for_selector("tr.row")
    assert phone.inner_text("#board-view h2") == "Orders"  # the language choice is remembered
    phone.close()


def test_admin_creates_an_operator_limited_to_one_branch(world):
    page, system, browser = world["page"], world["system"], world["browser"]
    page.click("a[data-view='users']")
    form = page.locator("#user-create")
    form.locator("input[name='username']").fill("pia")
    form.locator("input[name='display_name']").fill("Pía de Palermo")
    form.locator("input[name='password']").fill("palermo-pass-123")
    form.locator("input[name='branches'][value='palermo']").check()
    form.locator("button[type='submit']").click()
    created = page.locator("tr[data-user='pia']")
    created.wait_for()
    assert "Operador" in created.inner_text()
    page.click("a[data-view='board']")
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # her own cookies
    pia = context.new_page()
    pia.goto(system.base_url + "/")
    pia.fill("#login-username", "pia")
    pia.fill("#login-password", "palermo-pass-123")
    pia.click("#login-form button[type=submit]")
    row(pia, 3).wait_for()
    expect(rows(pia)).to_have_count(1)  # only Palermo's ticket; the others do not exist for her
    assert pia.locator("#filter-branch option").all_inner_texts() == ["Todas", "Sucursal Palermo"]
    assert pia.locator("a[data-view='users']").is_hidden()
    context.close()
