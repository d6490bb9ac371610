"""Wrong answers, typed equivalents of buttons, the keywords, and what the bot cannot read."""

from __future__ import annotations

import pytest
from botchat import Chat, button_ids, only, replies, reply, row_ids

from mostrador.bot.application import BotApp
from mostrador.events.schemas.bot import IntakeCancelled, IntakeUpdated

pytestmark = pytest.mark.unit


def at_delivery(chat: Chat):
    chat.send("Hola")
    chat.send(tap="hacer_pedido")
    return reply(chat.send(row="sucursal_centro"))


def test_a_wrong_answer_explains_and_asks_the_same_question_again(chat):
    question = at_delivery(chat)

    again = reply(chat.send("no sé, mañana"))

    assert again.buttons == question.buttons
    assert again.text.startswith("No entendí") and again.text.endswith(question.text)


def test_a_button_from_another_question_is_a_wrong_answer(chat):
    question = at_delivery(chat)

    assert reply(chat.send(tap="resumen_confirmar")).buttons == question.buttons


def test_a_wrong_list_answer_resends_the_list(chat):
    chat.send("Hola")
    branches = reply(chat.send(tap="hacer_pedido"))

    again = reply(chat.send("la de Marte"))
    assert again.sections == branches.sections and again.list_button == branches.list_button


def test_an_order_too_short_is_asked_again(chat):
    at_delivery(chat)
    question = reply(chat.send(tap="entrega_retiro"))

    again = reply(chat.send("x"))
    assert again.text.endswith(question.text) and again.text != question.text


@pytest.mark.parametrize("typed", ["Envío a domicilio", "envio a domicilio", "ENVÍO A DOMICILIO", "1",
                                   "por favor envío"])
def test_typed_equivalents_of_the_delivery_button(chat, typed):
    at_delivery(chat)

    assert only(chat.send(typed), IntakeUpdated).details.delivery == "delivery"


@pytest.mark.parametrize("typed", ["2", "Retiro en sucursal", "lo paso a buscar"])
def test_typed_equivalents_of_pickup(chat, typed):
    at_delivery(chat)

    assert only(chat.send(typed), IntakeUpdated).details.delivery == "pickup"


@pytest.mark.parametrize("typed,branch", [("2", "palermo"), ("sucursal palermo", "palermo"),
                                          ("Belgrano", "belgrano")])
def test_typed_equivalents_of_a_list_row(chat, typed, branch):
    chat.send("Hola")
    chat.send("hacer un pedido")

    assert only(chat.send(typed), IntakeUpdated).branch == branch


@pytest.mark.parametrize("typed", ["1", "hacer un pedido", "Hacer un pedido!"])
def test_typed_equivalents_of_the_menu(chat, typed):
    chat.send("Hola")

    assert reply(chat.send(typed)).kind == "list"


@pytest.mark.parametrize("word", ["menu", "Menú", "MENU!"])
def test_menu_starts_over_and_resets_what_was_captured(chat, word):
    at_delivery(chat)
    chat.send(tap="entrega_envio")

    out = chat.send(word)
    assert button_ids(reply(out)) == ["hacer_pedido", "consultas", "handoff_operador"]
    reset = only(out, IntakeUpdated)
    assert reset.branch is None and reset.details.delivery is None
    assert reset.missing == ["branch", "delivery", "order", "name"]

    assert "sucursal_centro" in row_ids(reply(chat.send(tap="hacer_pedido")))


def test_cancelar_cancels_and_the_bot_then_stays_quiet(chat):
    at_delivery(chat)

    out = chat.send("Cancelar")
    assert only(out, IntakeCancelled).number == 42
    assert "Nº 42" in reply(out).text
    assert chat.send("hola?") == []  # the ticket becomes CANCELADO; a new one will greet


def test_the_cancelar_button_of_the_summary_cancels(chat):
    at_delivery(chat)
    chat.send(tap="entrega_retiro")
    chat.send("una docena")
    chat.send(tap="nombre_si")
    chat.send(tap="omitir_notes")

    assert only(chat.send(tap="resumen_cancelar"), IntakeCancelled).ticket_id == "ticket-1"


def test_a_word_inside_a_sentence_is_not_a_keyword(chat):
    at_delivery(chat)
    chat.send(tap="entrega_retiro")

    out = chat.send("lo del menú del día, 12 empanadas")
    assert only(out, IntakeUpdated).details.order == "lo del menú del día, 12 empanadas"


def test_an_old_menu_button_starts_that_option(chat):
    at_delivery(chat)

    out = chat.send(tap="handoff_operador")
    assert only(out, IntakeUpdated).type == "AYUDA" and only(out, IntakeUpdated).branch is None


@pytest.mark.parametrize("kind", ["sticker", "audio", "video", "document", "contacts", "unsupported",
                                  "unknown"])
def test_what_the_bot_cannot_read_gets_a_polite_note_and_the_same_question(chat, kind):
    question = at_delivery(chat)

    again = reply(chat.send(type=kind))
    assert "solo puedo leer" in again.text and again.text.endswith(question.text)
    assert again.buttons == question.buttons


def test_an_image_is_acknowledged_for_the_operator(chat):
    question = at_delivery(chat)

    again = reply(chat.send(type="image", media={"id": "media-1", "mime_type": "image/jpeg"}))
    assert "imagen" in again.text and again.buttons == question.buttons


def test_a_reaction_gets_a_polite_reply_and_the_same_question(chat):
    question = at_delivery(chat)

    again = reply(chat.send(type="reaction", reaction={"message_id": "wamid.x", "emoji": "👍"}))
    assert again.text.startswith("¡Gracias por tu reacción!") and again.text.endswith(question.text)
    assert again.buttons == question.buttons


def test_the_reaction_reply_comes_from_the_configuration(config, clock):
    texts = config.texts.model_copy(update={"reaction_received": "Thanks for the emoji"})
    app = BotApp(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, config=config.model_copy(update={"texts": texts}))
    chat = Chat(app, clock)
    at_delivery(chat)

    again = reply(chat.send(type="reaction", reaction={"message_id": "wamid.x", "emoji": "❤️"}))
    assert again.text.startswith("Thanks for the emoji")


def test_a_reaction_taken_back_gets_no_reply(chat):
    at_delivery(chat)

    assert chat.send(type="reaction", reaction={"message_id": "wamid.x"}) == []


def test_a_sticker_as_the_first_message_still_gets_the_greeting(chat):
    first = reply(chat.send(type="sticker", media={"id": "m"}))

    assert first.kind == "buttons" and "¡Hola, Lucía!" in first.text


def test_every_turn_sends_at_most_one_message(chat):
    at_delivery(chat)
    for message in ("?", "1", "Av. Corrientes 1500", "12 de carne", "Sí", "sin notas", "dale"):
        assert len(replies(chat.send(message))) == 1
    assert len(replies(chat.outputs)) == 10
