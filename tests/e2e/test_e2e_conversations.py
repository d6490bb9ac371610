"""Whole conversations through signed webhooks against the fake Graph API, in both deployment modes:
an order from «Hola» to COMPLETO, a help request, wrong answers and keywords, a new ticket after a
final status, expiry with a short configured duration, and a duplicated webhook changing nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.customer import Customer, options_of, text_of
from tests.e2e.harness import login, wait_for

pytestmark = pytest.mark.timeout(240)


class System:
    """Where each face of a running system answers (the same test runs on both modes)."""

    def __init__(self, panel: str, fake: str) -> None:
        self.panel, self.fake = panel, fake
        self.headers = login(panel)

    def customer(self, phone: str, name: str) -> Customer:
        return Customer(self.fake, phone, name)

    def ticket(self, number: int) -> dict:
        return httpx.get(f"{self.panel}/api/tickets/{number}", headers=self.headers, timeout=5).json()

    def tickets(self, **params) -> list[dict]:
        return httpx.get(f"{self.panel}/api/tickets", params=params, headers=self.headers, timeout=5).json()["items"]

    def wait_ticket(self, number: int, predicate, timeout: float = 20.0) -> dict:
        return wait_for(lambda: self.ticket(number), lambda t: t.get("number") == number and predicate(t),
                        timeout=timeout)

    def set_status(self, number: int, status: str) -> httpx.Response:
        return httpx.post(f"{self.panel}/api/tickets/{number}/status", json={"status": status},
                          headers=self.headers, timeout=10)


@pytest.fixture(params=["embedded", "distributed"])
def system(request):
    def start(**settings):
        if request.param == "embedded":
            server, _ = request.getfixturevalue("embedded")(**settings)
            server.__enter__()
            request.addfinalizer(lambda: server.__exit__(None, None, None))
            return System(server.base_url, f"{server.base_url}/sandbox/graph")
        env = {k.upper(): v for k, v in settings.items()}
        cluster = request.getfixturevalue("distributed")(**env)
        return System(f"http://127.0.0.1:{cluster.ports['panel-api']}", f"http://127.0.0.1:{cluster.fake_graph_port}")

    return start


def test_an_order_from_hola_to_completo(system):
    shop = system()
    lucia = shop.customer("5491100000001", "Lucía Fernández")
    lucia.say("Hola")
    greeting = lucia.replies()[0]
    assert "Lucía" in text_of(greeting)
    assert options_of(greeting) == ["Hacer un pedido", "Consultas", "Hablar con operador"]
    ticket = shop.wait_ticket(1, lambda t: t["status"] == "INCOMPLETO" and t["missing"])
    assert ticket["type"] == "PEDIDO"
    assert ticket["missing"] == ["branch", "delivery", "order", "name"]  # from the start, not only once answered

    lucia.tap("Hacer un pedido")
    assert "Sucursal Centro" in options_of(lucia.replies()[0])
    lucia.tap("Sucursal Palermo")
    lucia.replies()
    lucia.tap("Envío a domicilio")
    lucia.replies()
    lucia.say("Thames 2000 4B, Palermo")
    lucia.replies()
    lucia.say("2 docenas de carne y 1 de jamón y queso")
    assert options_of(lucia.replies()[0])[1] == "Otro nombre"
    missing = shop.wait_ticket(1, lambda t: t["details"].get("order"))["missing"]
    assert "name" in missing and "order" not in missing  # the panel shows what is still missing
    lucia.tap(options_of(lucia.last_interactive())[0])  # "Sí, soy …": the profile name
    lucia.replies()
    lucia.tap("Sin notas")
    summary = lucia.replies()[0]
    assert "2 docenas de carne" in text_of(summary) and "Thames 2000" in text_of(summary)
    lucia.tap("Confirmar")
    assert "Nº 1" in lucia.reply_text()

    done = shop.wait_ticket(1, lambda t: t["status"] == "COMPLETO")
    assert done["branch"] == "palermo" and done["type"] == "PEDIDO" and done["missing"] == []
    assert done["details"]["delivery"] == "delivery"
    assert done["details"]["address"] == "Thames 2000 4B, Palermo"
    assert done["details"]["name"] == "Lucía Fernández"
    assert [h["to_status"] for h in done["history"]] == ["INCOMPLETO", "COMPLETO"]
    assert done["history"][-1]["by"]["kind"] == "bot"

    # Waiting for a person: the bot acknowledges once, then stays silent.
    lucia.say("¿Cuánto tarda?")
    assert "Nº 1" in lucia.reply_text()
    lucia.say("¿Hola?")
    assert lucia.quiet()


def test_help_request_wrong_answers_keywords_and_a_new_ticket_after_a_final_status(system):
    shop = system()
    martin = shop.customer("5491100000002", "Martín Gómez")
    martin.say("Buenas")
    martin.replies()
    martin.say("quiero un helado de chocolate")  # not an option: explained, asked again
    again = martin.replies()[0]
    assert options_of(again) == ["Hacer un pedido", "Consultas", "Hablar con operador"]
    martin.say("menu")
    martin.replies()
    martin.tap("Hablar con operador")
    assert "Reclamo" in options_of(martin.replies()[0])
    martin.tap("Reclamo")
    martin.replies()
    martin.tap("Sucursal Centro")
    assert "Nº 1" in martin.reply_text()
    ticket = shop.wait_ticket(1, lambda t: t["status"] == "COMPLETO")
    assert (ticket["type"], ticket["topic"], ticket["branch"]) == ("AYUDA", "reclamo", "centro")

    # An operator takes it and closes it; the next message opens ticket 2 and the bot starts over.
    assert shop.set_status(1, "FACTURADO").status_code == 409  # COMPLETO -> FACTURADO is not allowed
    assert shop.set_status(1, "EN PROCESO").status_code == 200
    martin.say("¿me escuchan?")  # EN PROCESO: the bot is silent
    assert martin.quiet()
    assert shop.set_status(1, "RESUELTO").status_code == 200
    martin.say("Hola de nuevo")
    assert options_of(martin.replies()[0])[0] == "Hacer un pedido"
    second = shop.wait_ticket(2, lambda t: t["status"] == "INCOMPLETO")
    assert second["phone"] == "5491100000002"

    # «cancelar» cancels it, by the bot.
    martin.say("cancelar")
    assert "Nº 2" in martin.reply_text()
    cancelled = shop.wait_ticket(2, lambda t: t["status"] == "CANCELADO")
    assert cancelled["history"][-1]["by"]["kind"] == "bot"


def test_expiry_after_a_short_configured_duration(system):
    shop = system(ticket_expiry_hours=0.001)  # 3.6 s
    sofia = shop.customer("5491100000003", "Sofía")
    sofia.say("Hola")
    sofia.replies()
    expired = shop.wait_ticket(1, lambda t: t["status"] == "VENCIDO", timeout=30)
    assert expired["history"][-1]["by"]["kind"] == "system"


def test_a_duplicated_webhook_produces_no_duplicate_reply_or_event(system):
    shop = system()
    caro = shop.customer("5491100000004", "Carolina")
    first = caro.say("Hola")
    caro.replies()
    caro.say("Hola", wamid=first["wamid"])  # Meta delivers the same message again
    caro.say("Hola", wamid=first["wamid"])
    assert caro.quiet(2.0)  # no second greeting
    ticket = shop.ticket(1)
    assert ticket["message_count"] == 1
    assert [t["number"] for t in shop.tickets()] == [1]
