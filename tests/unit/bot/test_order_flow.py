"""An order, from "Hola" to the ticket number: the questions asked and the intake published."""

from __future__ import annotations

import pytest
from botchat import Chat, button_ids, only, reply, row_ids

from mostrador.bot.application import BotApp
from mostrador.events.schemas.bot import IntakeCompleted, IntakeUpdated

pytestmark = pytest.mark.unit


def order_until_summary(chat: Chat, *, delivery: str = "entrega_retiro") -> None:
    chat.send("Hola")
    chat.send(tap="hacer_pedido")
    chat.send(row="sucursal_palermo")
    chat.send(tap=delivery)
    if delivery == "entrega_envio":
        chat.send("Av. Santa Fe 3456, 4° B, Palermo")
    chat.send("1 docena de carne y 6 de humita")
    chat.send(tap="nombre_si")
    chat.send(tap="omitir_notes")


def test_hola_gets_the_greeting_and_the_three_option_menu_in_one_message(chat):
    menu = reply(chat.send("Hola"))

    assert menu.kind == "buttons"
    assert "¡Hola, Lucía!" in menu.text and "Empanadas Doña Rosa" in menu.text
    assert [b.title for b in menu.buttons] == ["Hacer un pedido", "Consultas", "Hablar con operador"]
    assert button_ids(menu) == ["hacer_pedido", "consultas", "handoff_operador"]


def test_a_pickup_order_from_hola_to_completed_with_the_ticket_number(chat):
    chat.send("Hola")
    branches = reply(chat.send(tap="hacer_pedido"))
    assert branches.kind == "list"
    assert row_ids(branches)[:3] == ["sucursal_centro", "sucursal_palermo", "sucursal_belgrano"]
    assert branches.sections[0].rows[0].description == "Av. Corrientes 1234, CABA"

    out = chat.send(row="sucursal_palermo")
    assert only(out, IntakeUpdated).branch == "palermo"
    assert [b.title for b in reply(out).buttons] == ["Envío a domicilio", "Retiro en sucursal"]

    out = chat.send(tap="entrega_retiro")
    assert reply(out).kind == "text" and "Qué querés pedir" in reply(out).text  # no address for pickup
    assert only(out, IntakeUpdated).missing == ["order", "name"]

    name_question = reply(chat.send("1 docena de carne y 6 de humita"))
    assert [b.title for b in name_question.buttons] == ["Sí, soy Lucía", "Otro nombre"]
    notes_question = reply(chat.send(tap="nombre_si"))
    assert [b.title for b in notes_question.buttons] == ["Sin notas"]

    summary = reply(chat.send(tap="omitir_notes"))
    assert [b.title for b in summary.buttons] == ["Confirmar", "Modificar", "Cancelar"]
    for shown in ("Sucursal Palermo", "Retiro en sucursal", "1 docena de carne y 6 de humita",
                  "Lucía Fernández"):
        assert shown in summary.text

    out = chat.send(tap="resumen_confirmar")
    completed = only(out, IntakeCompleted)
    assert (completed.ticket_id, completed.number, completed.type, completed.branch) == \
        ("ticket-1", 42, "PEDIDO", "palermo")
    assert completed.details.delivery == "pickup"
    assert completed.details.order == "1 docena de carne y 6 de humita"
    assert completed.details.name == "Lucía Fernández"
    assert completed.details.address is None and completed.details.notes is None
    assert "Nº 42" in reply(out).text


def test_delivery_asks_for_the_address_and_keeps_it(chat):
    chat.send("Hola")
    chat.send(tap="hacer_pedido")
    chat.send(row="sucursal_centro")
    ask = reply(chat.send(tap="entrega_envio"))
    assert ask.kind == "location_request" and "dirección" in ask.text

    too_short = reply(chat.send("abc"))
    assert too_short.kind == "location_request" and too_short.text.endswith(ask.text)

    chat.send("Av. Santa Fe 3456, 4° B, Palermo")
    chat.send("2 docenas surtidas")
    chat.send(tap="nombre_si")
    summary = reply(chat.send("Tocar timbre 4B"))
    assert "Av. Santa Fe 3456, 4° B, Palermo" in summary.text
    completed = only(chat.send("Confirmar"), IntakeCompleted)

    assert completed.details.delivery == "delivery"
    assert completed.details.address == "Av. Santa Fe 3456, 4° B, Palermo"
    assert completed.details.notes == "Tocar timbre 4B"


def test_a_location_pin_is_the_address_with_an_optional_reference(chat):
    chat.send("Hola")
    chat.send(tap="hacer_pedido")
    chat.send(row="sucursal_centro")
    chat.send(tap="entrega_envio")

    out = chat.send(type="location", location={"latitude": -34.6037, "longitude": -58.3816})
    assert only(out, IntakeUpdated).details.location.latitude == -34.6037
    assert "address" not in only(out, IntakeUpdated).missing
    assert button_ids(reply(out)) == ["omitir_referencia"]

    order_question = reply(chat.send("Piso 3, depto B"))
    assert "Qué querés pedir" in order_question.text
    chat.send("media docena de pollo")
    chat.send(tap="nombre_si")
    chat.send(tap="omitir_notes")
    completed = only(chat.send(tap="resumen_confirmar"), IntakeCompleted)

    assert completed.details.location.longitude == -58.3816
    assert completed.details.address == "Piso 3, depto B"


def test_a_pin_without_a_reference(chat):
    chat.send("Hola")
    chat.send(tap="hacer_pedido")
    chat.send(row="sucursal_centro")
    chat.send(tap="entrega_envio")
    chat.send(type="location", location={"latitude": -34.6, "longitude": -58.4})

    assert "Qué querés pedir" in reply(chat.send("Sin referencia")).text
    chat.send("6 de carne")
    chat.send(tap="nombre_si")
    summary = reply(chat.send(tap="omitir_notes"))
    assert "Ubicación compartida" in summary.text


def test_modificar_changes_one_field_and_returns_to_the_summary(chat):
    order_until_summary(chat)

    fields = reply(chat.send(tap="resumen_modificar"))
    assert fields.kind == "list"
    assert row_ids(fields) == ["campo_branch", "campo_delivery", "campo_order", "campo_name", "campo_notes"]

    assert "Qué querés pedir" in reply(chat.send(row="campo_order")).text
    out = chat.send("2 docenas de jamón y queso")
    summary = reply(out)
    assert button_ids(summary) == ["resumen_confirmar", "resumen_modificar", "resumen_cancelar"]
    assert "2 docenas de jamón y queso" in summary.text and "Sucursal Palermo" in summary.text
    assert only(out, IntakeUpdated).details.order == "2 docenas de jamón y queso"

    completed = only(chat.send(tap="resumen_confirmar"), IntakeCompleted)
    assert completed.details.order == "2 docenas de jamón y queso"
    assert completed.branch == "palermo" and completed.details.delivery == "pickup"


def test_switching_to_delivery_while_modifying_asks_the_address_then_the_summary(chat):
    order_until_summary(chat)
    chat.send(tap="resumen_modificar")
    chat.send(row="campo_delivery")

    assert reply(chat.send(tap="entrega_envio")).kind == "location_request"
    summary = reply(chat.send("Av. Cabildo 100, Belgrano"))
    assert "Av. Cabildo 100, Belgrano" in summary.text and button_ids(summary)[0] == "resumen_confirmar"


def test_switching_back_to_pickup_drops_the_address(chat):
    order_until_summary(chat, delivery="entrega_envio")
    chat.send(tap="resumen_modificar")
    chat.send(row="campo_delivery")
    summary = reply(chat.send(tap="entrega_retiro"))
    assert "Av. Santa Fe" not in summary.text

    completed = only(chat.send(tap="resumen_confirmar"), IntakeCompleted)
    assert completed.details.address is None


def test_otro_nombre_asks_to_type_it(chat):
    order_until_summary(chat)
    chat.send(tap="resumen_modificar")
    chat.send(row="campo_name")
    typed = reply(chat.send(tap="nombre_otro"))
    assert typed.kind == "text" and "nombre" in typed.text

    chat.send("Martín Gómez")
    completed = only(chat.send(tap="resumen_confirmar"), IntakeCompleted)
    assert completed.details.name == "Martín Gómez"


def test_no_to_the_profile_name_asks_to_type_it(chat):
    chat.send("Hola, quiero hacer un pedido")
    chat.send(row="sucursal_centro")
    chat.send(tap="entrega_retiro")
    chat.send("12 de carne")

    typed = reply(chat.send("No"))
    assert typed.kind == "text" and "nombre" in typed.text


def test_without_a_profile_name_the_name_is_typed(app, clock):
    chat = Chat(app, clock, name=None)
    chat.send("Hola")
    chat.send(tap="hacer_pedido")
    chat.send(row="sucursal_centro")
    chat.send(tap="entrega_retiro")
    ask = reply(chat.send("12 de carne"))
    assert ask.kind == "text" and "nombre" in ask.text

    assert button_ids(reply(chat.send("Caro"))) == ["omitir_notes"]


def test_a_long_profile_name_still_fits_the_button(app, clock):
    chat = Chat(app, clock, name="Maximililiano Bartolomé de la Santísima Trinidad")
    chat.send("quiero hacer un pedido")
    chat.send(row="sucursal_centro")
    chat.send(tap="entrega_retiro")
    name_question = reply(chat.send("12 de carne"))

    assert name_question.buttons[0].title == "Usar mi nombre"
    chat.send("Usar mi nombre")
    chat.send(tap="omitir_notes")
    completed = only(chat.send(tap="resumen_confirmar"), IntakeCompleted)
    assert completed.details.name == "Maximililiano Bartolomé de la Santísima Trinidad"


def test_the_first_message_can_go_straight_into_the_order(chat):
    first = reply(chat.send("Hola, quiero hacer un pedido"))

    assert first.kind == "list" and "¡Hola, Lucía!" in first.text
    assert "sucursal_centro" in row_ids(first)


def test_the_first_message_tells_the_ticket_every_required_field_is_still_missing(chat):
    first = only(chat.send("Hola"), IntakeUpdated)
    assert (first.type, first.branch, first.missing) == ("PEDIDO", None, ["branch", "delivery", "order", "name"])

    assert [p for p in chat.send(tap="hacer_pedido") if isinstance(p, IntakeUpdated)] == []  # nothing changed


def test_the_first_message_lists_what_the_configured_order_requires(config, clock):
    fields = [f for f in config.order_fields if f.id != "name"]
    app = BotApp(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, config=config.model_copy(update={"order_fields": fields}))

    assert only(Chat(app, clock).send("Hola"), IntakeUpdated).missing == ["branch", "delivery", "order"]


def test_a_ticket_an_operator_took_before_the_bot_spoke_gets_no_intake(chat):
    chat.status = "EN PROCESO"

    assert chat.send("Hola") == []


def test_the_intake_update_tells_the_panel_what_is_missing(chat):
    chat.send("Hola")
    chat.send(tap="hacer_pedido")
    updates = [only(chat.send(row="sucursal_centro"), IntakeUpdated),
               only(chat.send(tap="entrega_envio"), IntakeUpdated),
               only(chat.send("Av. Corrientes 999"), IntakeUpdated)]

    assert [u.missing for u in updates] == [["delivery", "order", "name"], ["address", "order", "name"],
                                            ["order", "name"]]
    assert all(u.type == "PEDIDO" and u.number == 42 for u in updates)
