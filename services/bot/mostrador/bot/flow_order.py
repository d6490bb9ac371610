"""The order intake: the configured fields one by one, then a summary to confirm, change or cancel.

Steps are "field:<id>" for each configured field, plus "address_ref" (an optional reference after a
location pin), "name_type" (typing a name), "summary" and "modify". After every answer the next
step is the first applicable field not answered yet, else the summary — so «Modificar» re-asks one
field and lands back on the summary, and switching to delivery asks the address it now needs.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mostrador.bot.config import BUTTON_TITLE, BotConfig, OrderField
from mostrador.bot.domainmodel import ConversationState, Turn
from mostrador.bot.flow_common import (
    Ctx,
    branch_list,
    branch_options,
    buttons,
    cancel,
    clip,
    join,
    list_message,
    location_request,
    text,
)
from mostrador.bot.flow_match import Answer, Option, pick

STEPS = {"address_ref", "name_type", "summary", "modify"}
SUMMARY_VALUE = 300  # a long order is clipped in the summary only; the panel shows it whole


def is_order_step(step: str) -> bool:
    return step.startswith("field:") or step in STEPS


def knows(cfg: BotConfig, step: str) -> bool:
    """False for a stored step whose field was removed from the config since it was asked."""
    needs = {"name_type": "name", "address_ref": "address"}.get(step, step.removeprefix("field:"))
    return step in ("summary", "modify") or cfg.field(needs) is not None


# -- what is captured and what is missing ------------------------------------------------------
def applicable(cfg: BotConfig, state: ConversationState) -> list[OrderField]:
    delivering = state.details.get("delivery") == "delivery"
    return [f for f in cfg.order_fields if f.id != "address" or delivering]


def value_of(state: ConversationState, field_id: str) -> Any:
    if field_id == "branch":
        return state.branch
    if field_id == "address":
        return state.details.get("address") or state.details.get("location")
    if field_id in ("delivery", "order", "name", "notes"):
        return state.details.get(field_id)
    return state.details.get("extra", {}).get(field_id)


def missing(cfg: BotConfig, state: ConversationState) -> list[str]:
    return [f.id for f in applicable(cfg, state) if f.required and not value_of(state, f.id)]


def _set(state: ConversationState, field_id: str, value: Any) -> ConversationState:
    """Record a field's value (None clears it) and mark it answered."""
    details = dict(state.details)
    if field_id in ("delivery", "address", "order", "name", "notes"):
        details[field_id] = value
    else:
        details["extra"] = {**details.get("extra", {}), field_id: value}
    details = {k: v for k, v in details.items() if v not in (None, {})}
    return replace(state, details=details, answered=_answered(state, field_id))


def _answered(state: ConversationState, field_id: str) -> tuple[str, ...]:
    return state.answered if field_id in state.answered else (*state.answered, field_id)


# -- asking ------------------------------------------------------------------------------------
def start(ctx: Ctx, prefix: str | None = None) -> Turn:
    fresh = ConversationState(acked=ctx.state.acked)
    return advance(ctx.moved(fresh), fresh, prefix)


def advance(ctx: Ctx, state: ConversationState, prefix: str | None = None) -> Turn:
    """Ask the next unanswered field, or show the summary when every field is answered."""
    nxt = next((f for f in applicable(ctx.cfg, state) if f.id not in state.answered), None)
    return ask_field(ctx, state, nxt.id if nxt else None, prefix)


def ask_field(ctx: Ctx, state: ConversationState, field_id: str | None, prefix: str | None = None) -> Turn:
    step = "summary" if field_id is None else f"field:{field_id}"
    if field_id == "name" and not ctx.profile_name:
        step = "name_type"
    state = replace(state, step=step)
    return Turn(state, [question(ctx.moved(state), prefix)])


def question(ctx: Ctx, prefix: str | None = None) -> dict[str, Any]:
    cfg, state, step = ctx.cfg, ctx.state, ctx.state.step
    if step == "summary":
        return buttons(join(prefix, summary(cfg, state)), _summary_options(cfg), ctx.footer)
    if step == "modify":
        t = cfg.texts
        return list_message(join(prefix, t.modify_prompt), t.fields_button, t.fields_section,
                            _field_options(cfg, state), ctx.footer)
    if step == "address_ref":
        return buttons(join(prefix, cfg.texts.address_reference), [_ref_skip(cfg)], ctx.footer)
    field = cfg.field("name" if step == "name_type" else step.removeprefix("field:"))
    assert field is not None, step
    if field.id == "branch":
        return branch_list(ctx, join(prefix, field.question))
    if field.id == "delivery":
        return buttons(join(prefix, field.question), _delivery_options(cfg), ctx.footer)
    if field.id == "address":
        return location_request(join(prefix, field.question))
    if step == "field:name" and ctx.profile_name:
        return buttons(join(prefix, cfg.name_texts.confirm.format(name=ctx.profile_name)),
                       _name_options(ctx), ctx.footer)
    if field.skip_button:
        return buttons(join(prefix, field.question), [_skip(cfg, field)], ctx.footer)
    return text(join(prefix, field.question))


# -- answering ---------------------------------------------------------------------------------
def handle(ctx: Ctx, answer: Answer) -> Turn:
    step, cfg, state = ctx.state.step, ctx.cfg, ctx.state
    if step == "summary":
        return _on_summary(ctx, answer)
    if step == "modify":
        chosen = pick(_field_options(cfg, state), answer)
        if chosen is None:
            return reask(ctx, cfg.texts.invalid_option)
        return ask_field(ctx, state, chosen.id.removeprefix("campo_"))
    if step == "address_ref":
        return _on_address(ctx, answer, reference=True)
    field_id = "name" if step == "name_type" else step.removeprefix("field:")
    if field_id == "branch":
        chosen = pick(branch_options(cfg), answer)
        if chosen is None:
            return reask(ctx, cfg.texts.invalid_option)
        state = replace(state, branch=chosen.id.removeprefix("sucursal_"))
        return advance(ctx, replace(state, answered=_answered(state, "branch")))
    if field_id == "delivery":
        chosen = pick(_delivery_options(cfg), answer)
        if chosen is None:
            return reask(ctx, cfg.texts.invalid_option)
        delivering = chosen.id == cfg.delivery_options.delivery.id
        state = _set(state, "delivery", "delivery" if delivering else "pickup")
        if not delivering:  # an address given before switching to pickup no longer applies
            details = {k: v for k, v in state.details.items() if k not in ("address", "location")}
            answered = tuple(a for a in state.answered if a != "address")
            state = replace(state, details=details, answered=answered)
        return advance(ctx, state)
    if field_id == "address":
        return _on_address(ctx, answer, reference=False)
    if step == "field:name":
        chosen = pick(_name_options(ctx), answer)
        if chosen is not None and chosen.id == "nombre_si":
            return advance(ctx, _set(state, "name", ctx.profile_name))
        if chosen is not None:  # «Otro nombre»: ask them to type it
            state = replace(state, step="name_type")
            return Turn(state, [question(ctx.moved(state))])
    return _on_text(ctx, answer, cfg.field(field_id))  # type: ignore[arg-type]


def reask(ctx: Ctx, why: str | None) -> Turn:
    return Turn(ctx.state, [question(ctx, why)])


def _on_text(ctx: Ctx, answer: Answer, field: OrderField) -> Turn:
    if field.skip_button and pick([_skip(ctx.cfg, field)], answer, keywords=False):
        return advance(ctx, _set(ctx.state, field.id, None))
    value = answer.text.strip() if answer.kind == "text" else ""
    if len(value) < field.min_length or not any(c.isalnum() for c in value):
        return reask(ctx, field.error or ctx.cfg.texts.invalid_text)
    return advance(ctx, _set(ctx.state, field.id, value))


def _on_address(ctx: Ctx, answer: Answer, *, reference: bool) -> Turn:
    cfg, state = ctx.cfg, ctx.state
    field = cfg.field("address")
    assert field is not None
    if answer.kind == "location":  # a pin: keep it, then offer an optional floor/apartment reference
        loc = answer.location or {}
        place = ", ".join(p for p in (loc.get("name"), loc.get("address")) if p) or None
        details = {**state.details, "location": loc}
        state = _set(replace(state, details=details), "address", place)
        state = replace(state, step="address_ref")
        return Turn(state, [question(ctx.moved(state))])
    if reference:
        if pick([_ref_skip(cfg)], answer, keywords=False):
            return advance(ctx, state)
        if answer.kind == "text":
            place = state.details.get("address")
            ref = answer.text.strip()
            return advance(ctx, _set(state, "address", f"{place} — {ref}" if place else ref))
        return reask(ctx, cfg.texts.invalid_text)
    value = answer.text.strip() if answer.kind == "text" else ""
    if len(value) < field.min_length or not any(c.isalpha() for c in value):
        return reask(ctx, field.error or cfg.texts.invalid_text)
    details = {k: v for k, v in state.details.items() if k != "location"}  # typed text replaces a pin
    return advance(ctx, _set(replace(state, details=details), "address", value))


def _on_summary(ctx: Ctx, answer: Answer) -> Turn:
    chosen = pick(_summary_options(ctx.cfg), answer)
    if chosen is None:
        return reask(ctx, ctx.cfg.texts.invalid_option)
    if chosen.id == "resumen_cancelar":
        return cancel(ctx)
    if chosen.id == "resumen_modificar":
        state = replace(ctx.state, step="modify")
        return Turn(state, [question(ctx.moved(state))])
    state = replace(ctx.state, step="done", outcome="completed")
    branch = ctx.cfg.branch(state.branch)
    confirmation = ctx.cfg.texts.order_confirmed.format(
        number=ctx.ticket.number, branch=branch.name if branch else "", business=ctx.cfg.business_name)
    return Turn(state, [text(confirmation)], completed=True)


# -- options and the summary -------------------------------------------------------------------
def _delivery_options(cfg: BotConfig) -> list[Option]:
    d = cfg.delivery_options
    return [Option(d.delivery.id, d.delivery.title, keywords=tuple(d.delivery.keywords)),
            Option(d.pickup.id, d.pickup.title, keywords=tuple(d.pickup.keywords))]


def _name_options(ctx: Ctx) -> list[Option]:
    n, name = ctx.cfg.name_texts, ctx.profile_name or ""
    yes = next((n.yes_button.format(name=c) for c in (name, name.split()[0] if name else "")
                if len(n.yes_button.format(name=c)) <= BUTTON_TITLE), n.use_profile_button)
    return [Option("nombre_si", yes, aliases=(*ctx.cfg.keywords.confirm, n.use_profile_button)),
            Option("nombre_otro", n.other_button, aliases=tuple(ctx.cfg.keywords.deny))]


def _summary_options(cfg: BotConfig) -> list[Option]:
    t = cfg.texts
    return [Option("resumen_confirmar", t.confirm_button, aliases=tuple(cfg.keywords.confirm)),
            Option("resumen_modificar", t.modify_button),
            Option("resumen_cancelar", t.cancel_button)]


def _skip(cfg: BotConfig, field: OrderField) -> Option:
    return Option(f"omitir_{field.id}", field.skip_button or "", aliases=tuple(cfg.keywords.skip))


def _ref_skip(cfg: BotConfig) -> Option:
    return Option("omitir_referencia", cfg.texts.address_reference_skip, aliases=tuple(cfg.keywords.skip))


def _field_options(cfg: BotConfig, state: ConversationState) -> list[Option]:
    return [Option(f"campo_{f.id}", f.label, description=shown(cfg, state, f.id))
            for f in applicable(cfg, state)]


def shown(cfg: BotConfig, state: ConversationState, field_id: str) -> str | None:
    """A field's value as the customer reads it (the branch's name, not its id)."""
    value = value_of(state, field_id)
    if not value:
        return None
    if field_id == "branch":
        branch = cfg.branch(value)
        return branch.name if branch else value
    if field_id == "delivery":
        d = cfg.delivery_options
        return d.delivery.title if value == "delivery" else d.pickup.title
    if field_id == "address":
        typed = state.details.get("address")
        pin = cfg.texts.location_label if state.details.get("location") else None
        return " — ".join(p for p in (typed, pin) if p)
    return clip(str(value), SUMMARY_VALUE)


def summary(cfg: BotConfig, state: ConversationState) -> str:
    t = cfg.texts
    lines = [t.summary_line.format(label=f.label, value=v)
             for f in applicable(cfg, state) if (v := shown(cfg, state, f.id))]
    return join(t.summary_header + "\n" + "\n".join(lines), t.summary_footer)

