"""The greeting and main menu, the FAQ answers, and the hand-off to a person (ticket type AYUDA).

Steps: "menu" (the three reply buttons), "faq" (the FAQ list), "topic" then "help_branch" (lists).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mostrador.bot import flow_order
from mostrador.bot.config import BUTTONS_BODY, BotConfig
from mostrador.bot.domainmodel import ConversationState, Turn
from mostrador.bot.flow_common import (
    Ctx,
    branch_list,
    branch_options,
    buttons,
    greeting,
    join,
    list_message,
    text,
)
from mostrador.bot.flow_match import Answer, Option, pick, pick_by_keywords

STEPS = {"menu", "faq", "topic", "help_branch"}


def menu_options(cfg: BotConfig) -> list[Option]:
    return [Option(o.id, o.title, keywords=tuple(o.keywords)) for o in cfg.menu]


def menu_action(cfg: BotConfig, option_id: str | None) -> str | None:
    return next((o.action for o in cfg.menu if o.id == option_id), None)


def start(ctx: Ctx, answer: Answer) -> Turn:
    """The ticket's first message: greet, and go straight in when it already says what it wants."""
    chosen = pick(menu_options(ctx.cfg), answer) if answer.kind == "reply" else \
        pick_by_keywords(menu_options(ctx.cfg), answer)
    if chosen is not None:
        return choose(ctx, menu_action(ctx.cfg, chosen.id), greeting(ctx))  # type: ignore[arg-type]
    faq = pick_by_keywords(_faq_options(ctx.cfg)[:-1], answer)
    if faq is not None:
        return answer_faq(ctx, faq.id, greeting(ctx))
    return show_menu(ctx, greeting(ctx))


def show_menu(ctx: Ctx, prefix: str | None) -> Turn:
    state = ConversationState(step="menu", acked=ctx.state.acked)  # the menu starts over: nothing kept
    return Turn(state, [question(ctx.moved(state), prefix)])


def choose(ctx: Ctx, action: str, prefix: str | None = None) -> Turn:
    """A menu option, from the menu or from any older menu message still on the customer's screen."""
    if action == "order":
        return flow_order.start(ctx, prefix)
    step, kind = ("faq", "PEDIDO") if action == "faq" else ("topic", "AYUDA")
    state = ConversationState(step=step, type=kind, acked=ctx.state.acked)
    return Turn(state, [question(ctx.moved(state), prefix)])


def question(ctx: Ctx, prefix: str | None = None) -> dict[str, Any]:
    cfg, t, step = ctx.cfg, ctx.cfg.texts, ctx.state.step
    if step == "menu":
        return buttons(join(prefix, t.menu_prompt), menu_options(cfg), ctx.footer)
    if step == "faq":
        return list_message(join(prefix, t.faq_prompt), t.faqs_button, t.faqs_section, _faq_options(cfg),
                            ctx.footer)
    if step == "topic":
        return list_message(join(prefix, t.ask_topic), t.topics_button, t.topics_section,
                            _topic_options(cfg), ctx.footer)
    assert step == "help_branch", step
    return branch_list(ctx, join(prefix, t.ask_help_branch))


def handle(ctx: Ctx, answer: Answer) -> Turn:
    cfg, state, step = ctx.cfg, ctx.state, ctx.state.step
    if step == "menu":
        chosen = pick(menu_options(cfg), answer)
        if chosen is not None:
            return choose(ctx, menu_action(cfg, chosen.id))  # type: ignore[arg-type]
        faq = pick_by_keywords(_faq_options(cfg)[:-1], answer)  # "¿a qué hora abren?" answers itself
        return answer_faq(ctx, faq.id) if faq else reask(ctx, cfg.texts.invalid_option)
    if step == "faq":
        chosen = pick(_faq_options(cfg), answer)
        if chosen is None:
            return reask(ctx, cfg.texts.invalid_option)
        if menu_action(cfg, chosen.id) == "handoff":
            return choose(ctx, "handoff")
        return answer_faq(ctx, chosen.id)
    if step == "topic":
        chosen = pick(_topic_options(cfg), answer)
        if chosen is None:
            return reask(ctx, cfg.texts.invalid_option)
        state = replace(state, step="help_branch", topic=chosen.id.removeprefix("tema_"))
        return Turn(state, [question(ctx.moved(state))])
    chosen = pick(branch_options(cfg), answer)
    if chosen is None:
        return reask(ctx, cfg.texts.invalid_option)
    state = replace(state, step="done", outcome="completed", branch=chosen.id.removeprefix("sucursal_"))
    branch, topic = cfg.branch(state.branch), cfg.topic(state.topic)
    done = cfg.texts.help_confirmed.format(number=ctx.ticket.number, topic=topic.title if topic else "",
                                           branch=branch.name if branch else "", business=cfg.business_name)
    return Turn(state, [text(done)], completed=True)


def answer_faq(ctx: Ctx, option_id: str, prefix: str | None = None) -> Turn:
    """The answer and the menu again — in one message when it fits in a buttons body, else two."""
    cfg = ctx.cfg
    faq = next(f for f in cfg.faqs if f"faq_{f.id}" == option_id)
    answer = cfg.faq_answer(faq)
    state = ConversationState(step="menu", acked=ctx.state.acked)
    together = join(prefix, answer, cfg.texts.after_faq)
    if len(together) <= BUTTONS_BODY:
        return Turn(state, [buttons(together, menu_options(cfg), ctx.footer)])
    menu = buttons(cfg.texts.after_faq, menu_options(cfg), ctx.footer)
    return Turn(state, [text(join(prefix, answer)), menu])


def reask(ctx: Ctx, why: str | None) -> Turn:
    return Turn(ctx.state, [question(ctx, why)])


def _faq_options(cfg: BotConfig) -> list[Option]:
    handoff = cfg.menu_option("handoff")
    return [Option(f"faq_{f.id}", f.title, f.description, keywords=tuple(f.keywords)) for f in cfg.faqs] + \
        [Option(handoff.id, cfg.texts.faq_handoff_row, keywords=tuple(handoff.keywords))]


def _topic_options(cfg: BotConfig) -> list[Option]:
    return [Option(f"tema_{t.id}", t.title, t.description) for t in cfg.topics]
