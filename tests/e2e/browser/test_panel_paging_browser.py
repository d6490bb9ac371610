"""«Cargar más» in a real Chromium: the board's count follows the live changes, and a later page
(which repeats the first page's count, board.py) does not put the stale figure back. The page size
is cut to 2 on the way to the server, so five customers make three pages."""

from __future__ import annotations

from urllib.parse import urlencode, urlparse, parse_qsl

import pytest
from playwright.sync_api import expect

from tests.e2e.browser.browser_rig import chromium, running_system
from tests.e2e.browser.test_panel_filters_browser import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(120)]


def small_pages(route) -> None:
    url = urlparse(route.request.url)
    query = [(k, "2" if k == "limit" else v) for k, v in parse_qsl(url.query)]
    route.continue_(url=url._replace(query=urlencode(query)).geturl())


def test_load_more_keeps_the_live_count(tmp_path):
    with running_system(tmp_path) as system, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="es-AR")
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        for i in range(5):
            system.customer_says(f"54911000002{i:02d}", f"Cliente {i}", "hola")
        page.route("**/api/tickets?*", small_pages)
        log_in(page, system.base_url)
        count = page.locator("#board-count")
        expect(count).to_have_text("Mostrando 2 de 5")
        system.customer_says("5491100000299", "Cliente nuevo", "hola")  # arrives live, at the top
        expect(count).to_have_text("Mostrando 3 de 6")
        page.click("#load-more")
        expect(count).to_have_text("Mostrando 5 de 6")  # not "de 5", the first page's count
        page.click("#load-more")
        expect(count).to_have_text("Mostrando 6 de 6")
        expect(page.locator("#load-more")).to_be_hidden()
        assert errors == [], errors
