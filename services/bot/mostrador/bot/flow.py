"""The bot's brain: given the ticket, the conversation so far and one customer message, what to do.

Pure: no clock, no I/O, no ids — the same inputs always give the same Turn, which the Conversation
aggregate stores. The order of checks is the product's rules:
  1. the ticket's status decides whether the bot speaks at all (EN PROCESO and final: never;
     COMPLETO, or intake already confirmed: one "a person will answer soon", then silence);
  2. system notices (and a reaction taken back) say nothing; `cancelar` cancels and `menú` starts
     over, at any step;
  3. the first message greets (and goes straight in when it says what it wants);
  4. a tap on any menu button, even on an old message, starts that option;
  5. a reaction, an image or what the bot cannot read gets a polite note and the same question again
     (the message itself is in the chat for the operator either way);
  6. otherwise the current step reads the answer (flow_order / flow_help).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mostrador.bot import flow_help, flow_order
from mostrador.bot.config import BotConfig
from mostrador.bot.domainmodel import START, ConversationState, Turn
from mostrador.bot.flow_common import Ctx, cancel, greeting, text
from mostrador.bot.flow_match import Answer, is_keyword, read_answer
from mostrador.events.schemas.ingest import InboundMessage
from mostrador.events.schemas.tickets import TicketDetails, TicketState


def decide(cfg: BotConfig, state: ConversationState, ticket: TicketState, message: InboundMessage, *,
           intake_sent: bool = False) -> Turn:
    """``intake_sent``: this conversation already told the ticket its intake (else this turn does)."""
    turn = _respond(Ctx(cfg, ticket, state), read_answer(message))
    return _with_intake(cfg, state, turn, first=not intake_sent and ticket.status == "INCOMPLETO")


def _respond(ctx: Ctx, answer: Answer) -> Turn:
    cfg, state, status = ctx.cfg, ctx.state, ctx.ticket.status
    if status == "EN PROCESO" or ctx.ticket.is_final or state.outcome == "cancelled":
        return Turn(state)  # a person has it, or it is over: the bot stops
    if status == "COMPLETO" or state.outcome == "completed":
        if state.acked:
            return Turn(state)
        waiting = cfg.texts.waiting_operator.format(number=ctx.ticket.number)
        return Turn(replace(state, acked=True), [text(waiting)])
    if answer.kind == "silent":
        return Turn(state)
    if is_keyword(answer, cfg.keywords.cancel):
        return cancel(ctx)
    if is_keyword(answer, cfg.keywords.menu):
        return flow_help.show_menu(ctx, greeting_or_restart(ctx))
    if state.step == START:
        return flow_help.start(ctx, answer)
    if not _known(cfg, state.step):  # the config changed under a running conversation
        return flow_help.show_menu(ctx, cfg.texts.restart)
    action = flow_help.menu_action(cfg, answer.reply_id) if answer.kind == "reply" else None
    if action is not None:
        return flow_help.choose(ctx, action)
    if answer.kind == "image":
        return reask(ctx, cfg.texts.image_received)
    if answer.kind == "reaction":
        return reask(ctx, cfg.texts.reaction_received)
    if answer.kind == "unreadable":
        return reask(ctx, cfg.texts.unsupported)
    if flow_order.is_order_step(state.step):
        return flow_order.handle(ctx, answer)
    return flow_help.handle(ctx, answer)


def _known(cfg: BotConfig, step: str) -> bool:
    if flow_order.is_order_step(step):
        return flow_order.knows(cfg, step)
    return step in flow_help.STEPS


def greeting_or_restart(ctx: Ctx) -> str:
    if ctx.state.step == START:
        return greeting(ctx)
    return ctx.cfg.texts.restart


def reask(ctx: Ctx, why: str) -> Turn:
    """The explanation and the current question, with its buttons or list, in one message."""
    if flow_order.is_order_step(ctx.state.step):
        return Turn(ctx.state, [flow_order.question(ctx, why)])
    return Turn(ctx.state, [flow_help.question(ctx, why)])


def question(cfg: BotConfig, ticket: TicketState, state: ConversationState) -> dict[str, Any] | None:
    """The question the conversation is waiting on (None before the first message and once done)."""
    ctx = Ctx(cfg, ticket, state)
    if flow_order.is_order_step(state.step):
        return flow_order.question(ctx)
    if state.step in flow_help.STEPS:
        return flow_help.question(ctx)
    return None


# -- what the panel sees -----------------------------------------------------------------------
def intake_view(cfg: BotConfig, state: ConversationState) -> dict[str, Any]:
    """The captured fields and the required ones still missing, as the bot.intake.* payloads carry them."""
    if state.type == "AYUDA":
        missing = [name for name in ("topic", "branch") if not getattr(state, name)]
    else:
        missing = flow_order.missing(cfg, state)
    details = TicketDetails.model_validate(state.details).model_dump(mode="json", exclude_defaults=True)
    return {"type": state.type, "branch": state.branch, "topic": state.topic, "details": details,
            "missing": missing}


def _with_intake(cfg: BotConfig, before: ConversationState, turn: Turn, *, first: bool) -> Turn:
    """Publish the intake when it changed — and on the ticket's first turn, so a new ticket shows
    what is still missing from the start (it opens with nothing captured and nothing listed)."""
    if turn.cancelled or before.outcome == "cancelled":
        return turn
    after = intake_view(cfg, turn.state)
    if turn.completed or first or after != intake_view(cfg, before):
        return replace(turn, intake=after)
    return turn

