"""The bot's configuration: every text, option, branch, topic and FAQ, from one YAML file.

WhatsApp refuses interactive messages past its limits (CLOUD-API.md §4.3–4.4), so the limits are
checked here, when the file is loaded, with an error naming the key — not at send time, when a
customer is waiting. A file only needs the keys it changes: it is merged over the packaged default
(mappings merge key by key; lists replace the default's list whole).
"""

from __future__ import annotations

import os
import string
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mostrador.events.schemas.common import TemplateSpec

BUTTON_TITLE, ROW_TITLE, ROW_DESCRIPTION, SECTION_TITLE, LIST_BUTTON = 20, 24, 72, 24, 20
BUTTONS_BODY, TEXT_BODY, FOOTER, MAX_ROWS, MAX_BUTTONS = 1024, 4096, 60, 10, 3

# Order fields answered with buttons or a list, so they cannot be skipped. Besides these, built-in
# ids are address, order and notes; any other id is a free-text field kept in details.extra.
CHOICE_FIELDS = ("branch", "delivery", "name")


class ConfigError(ValueError):
    """The configuration file is unusable; the message names every offending key."""


def _check(n: int, what: str):
    def check(value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        if len(value) > n:
            raise ValueError(f"{value!r} has {len(value)} characters; "
                             f"WhatsApp allows at most {n} for {what}")
        return value
    return check


def _limit(n: int, what: str) -> AfterValidator:
    return AfterValidator(_check(n, what))


ButtonTitle = Annotated[str, _limit(BUTTON_TITLE, "a reply button title")]
ListButton = Annotated[str, _limit(LIST_BUTTON, "a list's button label")]
RowTitle = Annotated[str, _limit(ROW_TITLE, "a list row title")]
RowDescription = Annotated[str, _limit(ROW_DESCRIPTION, "a list row description")]
SectionTitle = Annotated[str, _limit(SECTION_TITLE, "a list section title")]
Body = Annotated[str, _limit(BUTTONS_BODY, "the body of an interactive message")]
LongText = Annotated[str, _limit(TEXT_BODY, "a text message")]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Choice(Model):
    id: str = Field(min_length=1, max_length=200)
    title: ButtonTitle
    keywords: list[str] = []  # words that pick this option from free text ("quiero hacer un pedido")


class MenuOption(Choice):
    action: Literal["order", "faq", "handoff"]


class Branch(Model):
    id: str = Field(min_length=1, max_length=100)
    name: RowTitle
    address: str = Field(min_length=1)
    hours: str = ""
    description: RowDescription | None = None  # shown under the name in the list; else the address
    keywords: list[str] = []

    @model_validator(mode="after")
    def _row_description(self) -> Branch:
        if self.description is None and len(self.address) > ROW_DESCRIPTION:
            raise ValueError(f"address {self.address!r} has {len(self.address)} characters; it is shown "
                             f"as the list row description (max {ROW_DESCRIPTION}): shorten it or add a "
                             "description")
        return self


class Topic(Model):
    id: str = Field(min_length=1, max_length=100)
    title: RowTitle
    description: RowDescription | None = None


class Faq(Model):
    id: str = Field(min_length=1, max_length=100)
    title: RowTitle
    description: RowDescription | None = None
    answer: LongText  # may use {branches}, {hours}, {business}
    keywords: list[str] = []


class OrderField(Model):
    """One thing the order intake asks, in the order listed."""

    id: str = Field(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_]*$")
    label: RowTitle  # in the summary and as a row of the «Modificar» list
    question: Body
    error: Body | None = None  # for text fields; the generic invalid_text otherwise
    required: bool = True
    min_length: int = Field(default=1, ge=1)
    skip_button: ButtonTitle | None = None  # optional fields: the button that skips them


class DeliveryOptions(Model):
    delivery: Choice
    pickup: Choice


class NameTexts(Model):
    confirm: Body  # {name}
    yes_button: str  # {name}; used only when it fits in a button, else use_profile_button
    use_profile_button: ButtonTitle
    other_button: ButtonTitle


class Texts(Model):
    greeting: Body
    greeting_anonymous: Body
    menu_prompt: Body
    restart: Body
    invalid_option: Body
    invalid_text: Body
    unsupported: Body
    image_received: Body
    reaction_received: Body
    cancelled: Body
    waiting_operator: Body
    footer: str = Field(default="", max_length=FOOTER)  # under every button/list message; "" for none
    branches_button: ListButton
    branches_section: SectionTitle
    ask_topic: Body
    topics_button: ListButton
    topics_section: SectionTitle
    ask_help_branch: Body
    help_confirmed: Body
    faq_prompt: Body
    faqs_button: ListButton
    faqs_section: SectionTitle
    faq_handoff_row: RowTitle
    after_faq: Body
    address_reference: Body
    address_reference_skip: ButtonTitle
    location_label: str
    summary_header: Body
    summary_line: str
    summary_footer: Body
    confirm_button: ButtonTitle
    modify_button: ButtonTitle
    cancel_button: ButtonTitle
    modify_prompt: Body
    fields_button: ListButton
    fields_section: SectionTitle
    order_confirmed: Body


# The placeholders each text may use: a typo like {numero} is a load error, not a crash mid-chat.
PLACEHOLDERS: dict[str, set[str]] = {
    "greeting": {"name", "business"}, "greeting_anonymous": {"business"},
    "cancelled": {"number"}, "waiting_operator": {"number"},
    "help_confirmed": {"number", "topic", "branch", "business"},
    "order_confirmed": {"number", "branch", "business"},
    "summary_line": {"label", "value"}, "confirm": {"name"}, "yes_button": {"name"},
    "answer": {"branches", "hours", "business"},
}


class Keywords(Model):
    menu: list[str]
    cancel: list[str]
    confirm: list[str] = []  # also accepted as «Confirmar» and «Sí, soy …»
    skip: list[str] = []  # also accepted as the skip button of an optional field
    deny: list[str] = []  # also accepted as «Otro nombre»

    @field_validator("*", mode="before")
    @classmethod
    def _yaml_booleans(cls, value: Any) -> Any:
        if isinstance(value, list) and any(isinstance(v, bool) for v in value):
            raise ValueError("YAML reads bare no/yes/on/off as booleans: quote them, e.g. \"no\"")
        return value


class ResumeTemplate(Model):
    name: str
    language: str = "es_AR"
    parameters: list[str] = []  # may use {name}


class BotConfig(Model):
    business_name: str = Field(min_length=1)
    texts: Texts
    name_texts: NameTexts
    keywords: Keywords
    menu: list[MenuOption]
    delivery_options: DeliveryOptions
    branches: list[Branch] = Field(min_length=1, max_length=MAX_ROWS)
    topics: list[Topic] = Field(min_length=1, max_length=MAX_ROWS)
    faqs: list[Faq] = Field(min_length=1, max_length=MAX_ROWS - 1)  # + the «Hablar con operador» row
    order_fields: list[OrderField] = Field(min_length=1, max_length=MAX_ROWS)  # the «Modificar» list
    resume_template: ResumeTemplate

    @model_validator(mode="after")
    def _consistent(self) -> BotConfig:
        _check_placeholders(self)
        if len(self.menu) != MAX_BUTTONS or {o.action for o in self.menu} != {"order", "faq", "handoff"}:
            raise ValueError("menu: needs exactly 3 options, one each for actions order, faq and handoff")
        _unique("menu titles", [o.title for o in self.menu])
        _unique("menu ids", [o.id for o in self.menu])
        for name in ("branches", "topics", "faqs", "order_fields"):
            _unique(f"{name} ids", [item.id for item in getattr(self, name)])
        _unique("delivery_options titles", [self.delivery_options.delivery.title,
                                            self.delivery_options.pickup.title])
        _unique("summary buttons", [self.texts.confirm_button, self.texts.modify_button,
                                    self.texts.cancel_button])
        ids = [f.id for f in self.order_fields]
        if "address" in ids and ("delivery" not in ids or ids.index("delivery") > ids.index("address")):
            raise ValueError("order_fields: 'address' is asked only for delivery, so 'delivery' must "
                             "come before it")
        for i, f in enumerate(self.order_fields):
            if f.id in CHOICE_FIELDS and not f.required:
                raise ValueError(f"order_fields[{i}] ({f.id}): a choice field must be required")
            if f.required != (f.skip_button is None):
                raise ValueError(f"order_fields[{i}] ({f.id}): an optional field needs a skip_button, "
                                 "and only an optional one may have it")
        for i, faq in enumerate(self.faqs):
            try:
                _check(TEXT_BODY, "a text message")(self.faq_answer(faq))
            except ValueError as exc:
                raise ValueError(f"faqs[{i}].answer, with the branches filled in: {exc}") from None
        return self

    def field(self, field_id: str) -> OrderField | None:
        return next((f for f in self.order_fields if f.id == field_id), None)

    def branch(self, branch_id: str | None) -> Branch | None:
        return next((b for b in self.branches if b.id == branch_id), None)

    def topic(self, topic_id: str | None) -> Topic | None:
        return next((t for t in self.topics if t.id == topic_id), None)

    def menu_option(self, action: str) -> MenuOption:
        return next(o for o in self.menu if o.action == action)

    def faq_answer(self, faq: Faq) -> str:
        """FAQ answers may list the branches, so addresses are written once, in `branches`."""
        return faq.answer.format(
            business=self.business_name,
            branches="\n".join(f"• {b.name}: {b.address}" for b in self.branches),
            hours="\n".join(f"• {b.name}: {b.hours}" for b in self.branches if b.hours),
        )

    def resume_spec(self, name: str) -> TemplateSpec:
        """The approved re-engagement template for a customer (chat sends it on «Retomar contacto»)."""
        t = self.resume_template
        params = [p.format(name=name) for p in t.parameters]
        return TemplateSpec(name=t.name, language=t.language, parameters=params)


def _unique(what: str, values: list[str]) -> None:
    seen = [v.casefold() for v in values]
    dupes = sorted({v for v in seen if seen.count(v) > 1})
    if dupes:
        raise ValueError(f"{what} must be unique; repeated: {', '.join(dupes)}")


def _check_placeholders(cfg: BotConfig) -> None:
    """Only the texts listed in PLACEHOLDERS are formatted; the others are sent as written."""
    checks: list[tuple[str, str, set[str]]] = []
    for section in ("texts", "name_texts"):
        for key, value in getattr(cfg, section).model_dump().items():
            if key in PLACEHOLDERS:
                checks.append((f"{section}.{key}", value, PLACEHOLDERS[key]))
    for i, faq in enumerate(cfg.faqs):
        checks.append((f"faqs[{i}].answer", faq.answer, PLACEHOLDERS["answer"]))
    for i, p in enumerate(cfg.resume_template.parameters):
        checks.append((f"resume_template.parameters[{i}]", p, {"name"}))
    for key, text, allowed in checks:
        try:
            used = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
        except ValueError as exc:
            raise ValueError(f"{key}: bad braces ({exc}); write {{{{ and }}}} for literal braces") from None
        unknown = sorted(used - allowed)
        if unknown:
            hint = ", ".join(f"{{{a}}}" for a in sorted(allowed)) or "none"
            raise ValueError(f"{key}: unknown placeholder {{{unknown[0]}}}; allowed here: {hint}")


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        return {**base, **{k: _merge(base.get(k), v) for k, v in override.items()}}
    return override


def _read_yaml(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"bot config {source}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"bot config {source}: the top level must be a mapping")
    return data


def _format_errors(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"  - {loc}: {msg}" if loc else f"  - {msg}")
    return f"invalid bot config {source}:\n" + "\n".join(lines)


def default_config_text() -> str:
    return resources.files(__package__).joinpath("default_config.yaml").read_text(encoding="utf-8")


def load_config(path: str | None = None) -> BotConfig:
    """The configuration from ``path``, else env BOT_CONFIG, else the packaged Spanish default."""
    data = _read_yaml(default_config_text(), "default_config.yaml")
    path = path or os.environ.get("BOT_CONFIG") or None
    source = "default_config.yaml"
    if path:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"bot config {source}: cannot read it: {exc}") from None
        data = _merge(data, _read_yaml(text, source))
    try:
        return BotConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source)) from None
