"""What every step of the flow shares: the turn's context and the WhatsApp message builders.

Each turn answers with one message when it can (a re-ask is the short explanation *and* the same
question with the same buttons), because WhatsApp rate-limits messages to one customer (§6).
Builders clip dynamic text (a long order, a long profile name) to WhatsApp's limits, so a message
built here is never refused by the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from mostrador.bot.config import (
    BUTTON_TITLE,
    BUTTONS_BODY,
    LIST_BUTTON,
    ROW_DESCRIPTION,
    ROW_TITLE,
    SECTION_TITLE,
    TEXT_BODY,
    BotConfig,
)
from mostrador.bot.domainmodel import ConversationState, Turn
from mostrador.bot.flow_match import Option
from mostrador.events.schemas.common import ButtonOption, ListRow, ListSection, OutboundContent
from mostrador.events.schemas.tickets import TicketState


@dataclass(frozen=True)
class Ctx:
    cfg: BotConfig
    ticket: TicketState
    state: ConversationState

    @property
    def profile_name(self) -> str | None:
        name = (self.ticket.customer.name or "").strip()
        return name or None

    @property
    def footer(self) -> str | None:
        return self.cfg.texts.footer or None

    def moved(self, state: ConversationState) -> Ctx:
        return replace(self, state=state)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def join(*parts: str | None) -> str:
    """Prefix + question in one body, separated by a blank line."""
    return "\n\n".join(p for p in parts if p)


def _dump(content: OutboundContent) -> dict[str, Any]:
    return content.model_dump(mode="json", exclude_defaults=True)


def text(body: str) -> dict[str, Any]:
    return _dump(OutboundContent(kind="text", text=clip(body, TEXT_BODY)))


def buttons(body: str, options: Sequence[Option], footer: str | None = None) -> dict[str, Any]:
    return _dump(OutboundContent(
        kind="buttons", text=clip(body, BUTTONS_BODY), footer=footer,
        buttons=[ButtonOption(id=o.id, title=clip(o.title, BUTTON_TITLE)) for o in options[:3]],
    ))


def list_message(body: str, button: str, section: str, options: Sequence[Option],
                 footer: str | None = None) -> dict[str, Any]:
    rows = [ListRow(id=o.id, title=clip(o.title, ROW_TITLE),
                    description=clip(o.description, ROW_DESCRIPTION) if o.description else None)
            for o in options[:10]]
    return _dump(OutboundContent(
        kind="list", text=clip(body, TEXT_BODY), footer=footer, list_button=clip(button, LIST_BUTTON),
        sections=[ListSection(title=clip(section, SECTION_TITLE), rows=rows)],
    ))


def location_request(body: str) -> dict[str, Any]:
    # WhatsApp's "send location" prompt; the customer may still type the address instead.
    return _dump(OutboundContent(kind="location_request", text=clip(body, BUTTONS_BODY)))


def branch_options(cfg: BotConfig) -> list[Option]:
    return [Option(id=f"sucursal_{b.id}", title=b.name, description=b.description or b.address,
                   keywords=tuple(b.keywords)) for b in cfg.branches]


def branch_list(ctx: Ctx, body: str) -> dict[str, Any]:
    t = ctx.cfg.texts
    return list_message(body, t.branches_button, t.branches_section, branch_options(ctx.cfg), ctx.footer)


def greeting(ctx: Ctx) -> str:
    t, name = ctx.cfg.texts, ctx.profile_name
    if name:
        return t.greeting.format(name=name.split()[0], business=ctx.cfg.business_name)
    return t.greeting_anonymous.format(business=ctx.cfg.business_name)


def cancel(ctx: Ctx) -> Turn:
    state = replace(ctx.state, step="cancelled", outcome="cancelled")
    return Turn(state, [text(ctx.cfg.texts.cancelled.format(number=ctx.ticket.number))], cancelled=True)
