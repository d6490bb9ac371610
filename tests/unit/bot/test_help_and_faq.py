"""Talking to a person (type AYUDA) and the FAQ answers the bot gives by itself."""

from __future__ import annotations

import pytest
from botchat import Chat, button_ids, only, replies, reply, row_ids

from mostrador.bot.application import BotApp
from mostrador.bot.config import load_config
from mostrador.events.schemas.bot import IntakeCompleted, IntakeUpdated

pytestmark = pytest.mark.unit


def test_hablar_con_operador_asks_topic_and_branch_then_completes_as_ayuda(chat):
    chat.send("Hola")
    out = chat.send(tap="handoff_operador")
    assert only(out, IntakeUpdated).type == "AYUDA"
    assert only(out, IntakeUpdated).missing == ["topic", "branch"]
    topics = reply(out)
    assert topics.kind == "list"
    titles = [r.title for r in topics.sections[0].rows]
    assert titles == ["Estado de mi pedido", "Reclamo", "Facturación", "Otro"]

    out = chat.send(row="tema_reclamo")
    assert only(out, IntakeUpdated).topic == "reclamo"
    assert "sucursal_centro" in row_ids(reply(out))

    out = chat.send(row="sucursal_belgrano")
    completed = only(out, IntakeCompleted)
    assert (completed.type, completed.topic, completed.branch) == ("AYUDA", "reclamo", "belgrano")
    assert completed.number == 42
    assert "Nº 42" in reply(out).text and "operador" in reply(out).text


def test_the_operador_button_as_the_first_message_greets_and_asks_the_topic(chat):
    # e.g. tapped on an old menu message after the last ticket was closed
    first = reply(chat.send(tap="handoff_operador"))

    assert first.kind == "list" and "¡Hola, Lucía!" in first.text
    assert row_ids(first)[0] == "tema_estado"


def test_asking_for_a_person_in_words_goes_to_the_help_flow(chat):
    first = reply(chat.send("Hola, necesito hablar con una persona"))

    assert first.kind == "list" and row_ids(first)[0] == "tema_estado"


def test_an_faq_is_answered_with_the_menu_and_nothing_goes_to_a_person(chat, config):
    chat.send("Hola")
    faqs = reply(chat.send(tap="consultas"))
    assert faqs.kind == "list"
    assert row_ids(faqs)[-1] == "handoff_operador"
    assert len(row_ids(faqs)) == len(config.faqs) + 1

    out = chat.send(row="faq_sucursales")
    answer = reply(out)
    assert answer.kind == "buttons"
    assert button_ids(answer) == ["hacer_pedido", "consultas", "handoff_operador"]
    for branch in config.branches:  # the addresses answer is generated from the branches
        assert branch.address in answer.text
    assert [type(p).__name__ for p in out] == ["ReplyRequested"]


def test_after_an_faq_the_customer_can_still_order(chat):
    chat.send("Hola")
    chat.send(tap="consultas")
    chat.send(row="faq_horarios")

    assert reply(chat.send(tap="hacer_pedido")).kind == "list"


def test_a_question_in_words_is_answered_from_the_faqs(chat):
    first = reply(chat.send("¿A qué hora abren?"))

    assert "lunes a domingo de 11 a 23 h" in first.text and "¡Hola, Lucía!" in first.text


def test_the_operator_row_of_the_faq_list_hands_off(chat):
    chat.send("Hola")
    chat.send(tap="consultas")
    out = chat.send(row="handoff_operador")

    assert only(out, IntakeUpdated).type == "AYUDA"


def test_a_long_answer_is_sent_before_the_menu_at_most_two_messages(tmp_path, clock):
    path = tmp_path / "bot.yaml"
    path.write_text("faqs:\n  - id: largo\n    title: Larga\n    answer: '" + "texto " * 300 + "'\n")
    app = BotApp(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, config=load_config(str(path)))
    chat = Chat(app, clock)
    chat.send("Hola")
    chat.send(tap="consultas")
    sent = replies(chat.send(row="faq_largo"))

    assert [c.kind for c in sent] == ["text", "buttons"]
    assert sent[0].text.startswith("texto texto")
