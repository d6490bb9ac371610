"""The ticket's lifecycle rules (PRODUCT.md), as given events -> command -> new events and state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mostrador.platform.esapp import AlreadyProcessed
from mostrador.tickets.application import TicketsApp
from mostrador.tickets.domainmodel import STATUSES, InvalidTransition, Ticket, UnknownStatus

T0 = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)
OPERATOR = {"kind": "operator", "id": "ana", "name": "Ana"}
BOT = {"kind": "bot"}
SYSTEM = {"kind": "system"}


def message(wamid: str, key: str = "5491100000001", at: datetime = T0, name: str | None = "Lucía") -> dict:
    return {"message_id": wamid, "timestamp": at.isoformat(), "type": "text", "text": "hola",
            "phone_number_id": "1", "customer": {"key": key, "wa_id": key, "name": name}}


@pytest.fixture
def app():
    return TicketsApp(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def open_ticket(app, wamid="w1", **kw) -> int:
    return app.receive_message(key=f"k-{wamid}", message=message(wamid, **kw))


def test_first_message_opens_ticket_one_incompleto_pedido(app):
    number = open_ticket(app)
    ticket = app.get_ticket(number)
    assert (number, ticket.status, ticket.type) == (1, "INCOMPLETO", "PEDIDO")
    assert ticket.customer["name"] == "Lucía"
    assert ticket.opened_at == T0 and ticket.message_count == 1
    assert ticket.history[0]["to_status"] == "INCOMPLETO"


def test_numbers_are_sequential_and_one_active_ticket_per_customer(app):
    assert open_ticket(app, "w1") == 1
    assert open_ticket(app, "w2") == 1  # same customer, ticket still open: same ticket
    assert open_ticket(app, "w3", key="5491100000002") == 2
    assert app.get_ticket(1).message_count == 2


def test_after_a_final_status_the_next_message_opens_a_new_ticket(app):
    open_ticket(app, "w1")
    app.change_status(key="c1", number=1, to="EN PROCESO", by=OPERATOR, at=T0)
    app.change_status(key="c2", number=1, to="FACTURADO", by=OPERATOR, at=T0)
    assert open_ticket(app, "w2", at=T0 + timedelta(minutes=5)) == 2
    assert app.get_ticket(2).status == "INCOMPLETO"
    assert app.get_ticket(1).message_count == 1


def test_a_redelivered_message_changes_nothing(app):
    open_ticket(app, "w1")
    with pytest.raises(AlreadyProcessed):
        app.receive_message(key="k-w1", message=message("w1"))
    assert app.get_ticket(1).message_count == 1


@pytest.mark.parametrize(("path", "final"), [
    (["EN PROCESO", "FACTURADO"], "FACTURADO"),
    (["EN PROCESO", "CANCELADO"], "CANCELADO"),
    (["EN PROCESO", "RESUELTO"], "RESUELTO"),
    (["EN PROCESO", "NO CONTESTA"], "NO CONTESTA"),
])
def test_operator_paths_from_incompleto_and_completo(app, path, final):
    open_ticket(app)
    app.update_details(key="b1", number=1, fields={"type": "PEDIDO", "branch": "centro", "topic": None,
                                                   "details": {"order": "12 empanadas"}, "missing": []},
                       by=BOT, at=T0, complete=True)
    assert app.get_ticket(1).status == "COMPLETO"
    for i, status in enumerate(path):
        app.change_status(key=f"c{i}", number=1, to=status, by=OPERATOR, at=T0)
    ticket = app.get_ticket(1)
    assert ticket.status == final
    assert [h["to_status"] for h in ticket.history] == ["INCOMPLETO", "COMPLETO", *path]
    assert ticket.history[-1]["by"] == OPERATOR


# The lifecycle of PRODUCT.md, written out by hand (not read from the code): (from, to) -> who may.
# COMPLETO is the system's, and the bot acts for it when the intake is done; the bot's only other
# move is the customer's «cancelar» while it still guides them. Every pair not listed is refused.
EXPECTED = {
    ("INCOMPLETO", "COMPLETO"): {"bot", "system"},
    ("INCOMPLETO", "EN PROCESO"): {"operator"},
    ("INCOMPLETO", "CANCELADO"): {"bot"},
    ("INCOMPLETO", "VENCIDO"): {"system"},
    ("COMPLETO", "EN PROCESO"): {"operator"},
    ("COMPLETO", "VENCIDO"): {"system"},
    ("EN PROCESO", "FACTURADO"): {"operator"},
    ("EN PROCESO", "CANCELADO"): {"operator"},
    ("EN PROCESO", "RESUELTO"): {"operator"},
    ("EN PROCESO", "NO CONTESTA"): {"operator"},
    ("EN PROCESO", "VENCIDO"): {"system"},
}
ALL_STATUSES = ["INCOMPLETO", "COMPLETO", "EN PROCESO", "FACTURADO", "CANCELADO", "RESUELTO", "NO CONTESTA",
                "VENCIDO"]
KINDS = ("operator", "bot", "system", "customer")


def test_the_statuses_are_exactly_the_products_eight():
    assert list(STATUSES) == ALL_STATUSES


@pytest.mark.parametrize("current", ALL_STATUSES)
def test_every_pair_of_statuses_is_allowed_or_refused_exactly_as_the_lifecycle_says(current):
    for requested in ALL_STATUSES:
        for kind in KINDS:
            ticket = Ticket(1, {"key": "k"}, T0, "w")
            ticket.status = current  # a unit test of the rule alone
            if kind in EXPECTED.get((current, requested), set()):
                ticket.change_status(requested, by={"kind": kind}, at=T0)
                assert ticket.status == requested
                assert ticket.history[-1]["by"] == {"kind": kind}
            else:
                with pytest.raises(InvalidTransition) as refused:
                    ticket.change_status(requested, by={"kind": kind}, at=T0)
                assert current in str(refused.value) and requested in str(refused.value)
                assert ticket.status == current and len(ticket.history) == 1


def test_nothing_leaves_a_final_status_whoever_asks():
    finals = {"FACTURADO", "CANCELADO", "RESUELTO", "NO CONTESTA", "VENCIDO"}
    assert not [pair for pair in EXPECTED if pair[0] in finals]  # the table above agrees with the rule
    for current in finals:
        for requested in ALL_STATUSES:
            ticket = Ticket(1, {"key": "k"}, T0, "w")
            ticket.status = current
            for kind in KINDS:
                with pytest.raises(InvalidTransition, match="final status"):
                    ticket.change_status(requested, by={"kind": kind}, at=T0)


def test_the_bot_cancels_only_while_it_is_still_guiding_the_customer(app):
    open_ticket(app, "w1")
    app.update_details(key="b1", number=1, fields={"type": "PEDIDO", "branch": "centro", "topic": None,
                                                   "details": {"order": "12 empanadas"}, "missing": []},
                       by=BOT, at=T0, complete=True)
    app.cancel_by_bot(key="b2", number=1, at=T0, reason="cancelar")  # too late: a person will answer
    assert app.get_ticket(1).status == "COMPLETO"


def test_nothing_leaves_a_final_status_and_unknown_statuses_are_errors(app):
    open_ticket(app)
    app.change_status(key="c1", number=1, to="EN PROCESO", by=OPERATOR, at=T0)
    app.change_status(key="c2", number=1, to="RESUELTO", by=OPERATOR, at=T0)
    with pytest.raises(InvalidTransition, match="from RESUELTO to EN PROCESO"):
        app.change_status(key="c3", number=1, to="EN PROCESO", by=OPERATOR, at=T0)
    with pytest.raises(UnknownStatus):
        app.change_status(key="c4", number=1, to="EN_PROCESO", by=OPERATOR, at=T0)


def test_operator_may_take_an_incompleto_ticket_but_not_complete_it(app):
    open_ticket(app)
    with pytest.raises(InvalidTransition):
        app.change_status(key="c1", number=1, to="COMPLETO", by=OPERATOR, at=T0)
    app.change_status(key="c2", number=1, to="EN PROCESO", by=OPERATOR, at=T0)
    assert app.get_ticket(1).status == "EN PROCESO"


def test_expiry_after_48h_but_never_for_a_ticket_closed_in_time(app):
    open_ticket(app, "w1")
    open_ticket(app, "w2", key="5491100000002")
    app.change_status(key="c1", number=2, to="EN PROCESO", by=OPERATOR, at=T0)
    app.change_status(key="c2", number=2, to="FACTURADO", by=OPERATOR, at=T0 + timedelta(hours=2))
    after = timedelta(hours=48)
    assert app.expire(key="e0", number=1, now=T0 + timedelta(hours=47), after=after) is False
    assert app.get_ticket(1).status == "INCOMPLETO"
    assert app.expire(key="e1", number=1, now=T0 + timedelta(hours=48), after=after) is True
    assert app.expire(key="e2", number=2, now=T0 + timedelta(hours=49), after=after) is False
    assert (app.get_ticket(1).status, app.get_ticket(2).status) == ("VENCIDO", "FACTURADO")
    assert app.get_ticket(1).history[-1]["by"] == SYSTEM


def test_bot_cancel_and_details_and_missing_fields(app):
    open_ticket(app)
    app.update_details(key="b1", number=1, fields={"type": "AYUDA", "branch": None, "topic": "reclamo",
                                                   "details": {}, "missing": ["branch"]}, by=BOT, at=T0)
    ticket = app.get_ticket(1)
    assert (ticket.type, ticket.topic, ticket.missing) == ("AYUDA", "reclamo", ["branch"])
    app.cancel_by_bot(key="b2", number=1, at=T0, reason="cancelar")
    assert app.get_ticket(1).status == "CANCELADO"
    assert app.get_ticket(1).history[-1]["by"] == BOT


def test_status_is_the_fold_of_the_events(app):
    open_ticket(app)
    app.change_status(key="c1", number=1, to="EN PROCESO", by=OPERATOR, at=T0)
    replayed = None
    for notification in app.notification_log.select(start=1, limit=10):
        event = app.mapper.to_domain_event(notification)
        if event.originator_id == app.get_ticket(1).id:
            replayed = event.mutate(replayed)
    assert replayed.status == app.get_ticket(1).status == "EN PROCESO"
