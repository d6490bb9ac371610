"""The Fecha y hora and Nombre header filters of the Pedidos table in a real Chromium, against the whole
embedded system: customers write through the sandbox WhatsApp, the operator filters by name and by
day (on the operator's own clock: the page runs in Buenos Aires time), live rows obey the filters, and
the labels follow the language toggle."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.e2e.browser.browser_rig import ADMIN, chromium, running_system

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(120)]

ZONE = ZoneInfo("America/Argentina/Buenos_Aires")
CUSTOMERS = [("5491100000011", "Lucía Fernández"), ("5491100000012", "Martín Gómez"),
             ("5491100000013", "Lucas Pérez")]


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    with running_system(tmp_path_factory.mktemp("filters")) as system, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="es-AR",
                                timezone_id="America/Argentina/Buenos_Aires")
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        queries: list[dict] = []
        page.on("request", lambda r: queries.append(parse_qs(urlparse(r.url).query))
                if urlparse(r.url).path == "/api/tickets" else None)
        log_in(page, system.base_url)
        for phone, name in CUSTOMERS:
            system.customer_says(phone, name, "hola")
        expect(page.locator("tr.row")).to_have_count(3)
        yield {"system": system, "page": page, "queries": queries}
        assert errors == [], errors


def log_in(page, base_url: str) -> None:
    page.goto(base_url + "/")
    page.fill("#login-username", ADMIN[0])
    page.fill("#login-password", ADMIN[1])
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#live-state[data-state='on']")


def names(page) -> list[str]:
    return [r.locator(".col-name").inner_text() for r in page.locator("tr.row").all()]


def test_the_name_header_filters_by_the_start_of_the_name_and_live_rows_obey_it(board):
    page, system = board["page"], board["system"]
    page.fill("#filter-name", "luc")
    expect(page.locator("tr.row")).to_have_count(2)
    assert names(page) == ["Lucas Pérez", "Lucía Fernández"]
    assert board["queries"][-1]["name"] == ["luc"]
    page.fill("#filter-name", "LUCÍA fer")
    expect(page.locator("tr.row")).to_have_count(1)
    assert names(page) == ["Lucía Fernández"]
    page.fill("#filter-name", "luc")
    expect(page.locator("tr.row")).to_have_count(2)
    system.customer_says("5491100000014", "Pedro Luque", "hola")  # not a match: stays off the board
    system.customer_says("5491100000015", "Luciana Ríos", "hola")  # a match: appears without a reload
    expect(page.locator("tr.row")).to_have_count(3)
    assert names(page)[0] == "Luciana Ríos"
    page.fill("#filter-name", "")
    expect(page.locator("tr.row")).to_have_count(5)


def test_the_date_header_filters_by_the_operators_days_and_combines_with_the_name(board):
    page = board["page"]
    today = datetime.now(ZONE).date()
    yesterday, tomorrow = today - timedelta(days=1), today + timedelta(days=1)
    page.click("#filter-date summary")
    page.fill("#filter-to", yesterday.isoformat())
    page.wait_for_selector("#board-empty:not([hidden])")
    end_of_yesterday = datetime.combine(today, datetime.min.time(), ZONE) - timedelta(milliseconds=1)
    sent = board["queries"][-1]
    assert datetime.fromisoformat(sent["to"][0]) == end_of_yesterday  # the operator's day, as an instant
    page.fill("#filter-to", "")
    page.fill("#filter-from", today.isoformat())
    expect(page.locator("tr.row")).to_have_count(5)
    assert datetime.fromisoformat(board["queries"][-1]["from"][0]) == datetime.combine(today, datetime.min.time(), ZONE)
    page.fill("#filter-to", today.isoformat())
    expect(page.locator("#filter-date summary")).not_to_have_text("Todas")
    page.fill("#filter-name", "mart")
    expect(page.locator("tr.row")).to_have_count(1)
    assert names(page) == ["Martín Gómez"]
    page.fill("#filter-from", tomorrow.isoformat())
    page.fill("#filter-to", "")
    page.wait_for_selector("#board-empty:not([hidden])")
    page.click("#clear-filters")
    expect(page.locator("tr.row")).to_have_count(5)
    expect(page.locator("#filter-name")).to_have_value("")
    expect(page.locator("#filter-from")).to_have_value("")
    expect(page.locator("#filter-date summary")).to_have_text("Todas")


def test_the_new_filters_are_labelled_in_spanish_and_english(board):
    page = board["page"]
    assert page.get_attribute("#filter-name", "placeholder") == "Nombre"
    assert page.locator("#filter-date label span").all_inner_texts() == ["Desde", "Hasta"]
    page.locator("nav [data-lang-toggle]").click()
    expect(page.locator("#filter-date summary")).to_have_text("Any")
    assert page.get_attribute("#filter-name", "placeholder") == "Name"
    assert page.locator("#filter-date label span").all_inner_texts() == ["From", "To"]
    page.locator("nav [data-lang-toggle]").click()
    expect(page.locator("#filter-date summary")).to_have_text("Todas")
