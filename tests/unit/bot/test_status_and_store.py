"""Ticket statuses silence the bot; redelivery is a no-op; the stored events rebuild the same state."""

from __future__ import annotations

from functools import reduce

import pytest
from botchat import Chat, limit_violations, only, replies, reply

from mostrador.bot import flow
from mostrador.bot.domainmodel import Conversation, ConversationState
from mostrador.events.schemas.bot import IntakeCompleted

pytestmark = pytest.mark.unit


def complete_an_order(chat: Chat) -> None:
    chat.send("Hola, quiero hacer un pedido")
    chat.send(row="sucursal_centro")
    chat.send(tap="entrega_envio")
    chat.send(type="location", location={"latitude": -34.6, "longitude": -58.4, "address": "Corrientes 1500"})
    chat.send("Piso 2")
    chat.send("1 docena de carne")
    chat.send(tap="nombre_otro")
    chat.send("Lucía F.")
    chat.send("sin cebolla")
    chat.send(tap="resumen_modificar")
    chat.send(row="campo_notes")
    chat.send("sin notas")
    only(chat.send(tap="resumen_confirmar"), IntakeCompleted)


def test_completo_is_acknowledged_exactly_once(chat):
    complete_an_order(chat)
    chat.status = "COMPLETO"

    first = reply(chat.send("¿Cuánto tarda?"))
    assert "en breve" in first.text and "Nº 42" in first.text
    assert chat.send("¿Hola?") == []
    assert chat.send("¿Hay alguien?") == []


def test_a_message_right_after_confirming_counts_as_waiting_too(chat):
    complete_an_order(chat)  # the ticket is still INCOMPLETO until tickets handles our event

    assert len(replies(chat.send("gracias!"))) == 1
    chat.status = "COMPLETO"
    assert chat.send("gracias de nuevo") == []


def test_en_proceso_is_silent_even_when_an_operator_takes_an_incomplete_ticket(chat):
    chat.send("Hola")
    chat.send(tap="hacer_pedido")
    chat.status = "EN PROCESO"

    assert chat.send(row="sucursal_centro") == []
    assert chat.send("menu") == []
    assert chat.send("cancelar") == []
    assert chat.send(type="sticker") == []


@pytest.mark.parametrize("status", ["FACTURADO", "CANCELADO", "RESUELTO", "NO CONTESTA", "VENCIDO"])
def test_final_statuses_are_silent(chat, status):
    chat.status = status

    assert chat.send("Hola") == []


def test_a_redelivered_message_produces_nothing_new(chat):
    chat.send("Hola")
    message = chat.message(tap="hacer_pedido")
    assert len(chat.deliver(message, key="event-7")) == 1

    assert chat.deliver(message, key="event-7") == []  # already handled: a no-op, nothing saved
    assert chat.new_outputs() == []


def test_the_same_whatsapp_message_under_another_key_is_ignored(chat):
    chat.send("Hola")
    message = chat.message(tap="hacer_pedido")
    chat.deliver(message, key="event-7")

    assert chat.deliver(message, key="event-8") == []


def test_replay_rebuilds_the_same_state_without_running_the_flow(chat, app, monkeypatch):
    saved = []
    save = app.save_processed
    monkeypatch.setattr(app, "save_processed", lambda key, *objs: saved.extend(objs) or save(key, *objs))
    complete_an_order(chat)
    live = saved[-1]  # the aggregate the commands changed in memory

    def no_flow(*args, **kwargs):
        raise AssertionError("replay must not decide anything")

    monkeypatch.setattr(flow, "decide", no_flow)
    rebuilt = reduce(lambda agg, e: e.mutate(agg), app.events.get(live.id), None)
    loaded = app.get_conversation("ticket-1")

    for copy in (rebuilt, loaded):
        assert copy is not live
        assert copy.state == live.state
        assert copy.handled == live.handled and copy.version == live.version
        assert copy.intake == live.intake and copy.replies_requested == live.replies_requested
        assert copy.customer == live.customer and copy.last_message_at == live.last_message_at
    assert live.state.outcome == "completed" and live.state.details["name"] == "Lucía F."
    assert live.id == Conversation.create_id("ticket-1")


def test_a_step_removed_from_the_config_restarts_politely(chat, config):
    stale = ConversationState(step="field:cuit", details={"order": "6 de carne"}, answered=("order",))

    turn = flow.decide(config, stale, chat.ticket(), chat.message("20-12345678-9"))
    assert turn.state.step == "menu" and turn.replies[0]["kind"] == "buttons"
    assert turn.intake is not None and turn.intake["details"] == {}


def test_every_reply_is_within_whatsapp_limits(app, clock):
    chats = [Chat(app, clock, ticket_id=f"t{i}", name=name) for i, name in
             enumerate(["Lucía Fernández", None, "Bartolomé Maximiliano Santísima Trinidad de los Ríos"])]
    for chat in chats:
        complete_an_order(chat)
        chat.status = "COMPLETO"
        chat.send("hola")
    help_chat = Chat(app, clock, ticket_id="help")
    for step in ("Hola", "Consultas", "9", "Direcciones", "3", "Reclamo", "Otro", "x", "1"):
        help_chat.send(step)
    long_order = Chat(app, clock, ticket_id="long")
    for step in ("pedido", "1", "2", "empanadas " * 500, "sí", "nota " * 300):
        long_order.send(step)

    everything = [c for chat in (*chats, help_chat, long_order) for c in replies(chat.outputs)]
    assert len(everything) > 40
    assert {c.kind for c in everything} == {"text", "buttons", "list", "location_request"}
    assert [(c.text, limit_violations(c)) for c in everything if limit_violations(c)] == []
