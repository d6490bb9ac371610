"""Value objects shared by several producers' payloads."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Customer(Value):
    """A WhatsApp user. Meta may hide the phone (username users): identity never assumes one.

    ``key`` is the stable identity we use everywhere: the phone (wa_id) when Meta gives it,
    else the business-scoped user id (BSUID).
    """

    key: str
    wa_id: str | None = None
    user_id: str | None = None
    name: str | None = None
    username: str | None = None

    @staticmethod
    def key_for(wa_id: str | None, user_id: str | None) -> str | None:
        return wa_id or user_id


class Actor(Value):
    """Who did something: the bot, the system (timers), an operator, or the customer."""

    kind: Literal["bot", "system", "operator", "customer"]
    id: str | None = None
    name: str | None = None


class Location(Value):
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None
    url: str | None = None


class ApiError(Value):
    """An error as WhatsApp reports it (in a send response, a status webhook or a message)."""

    code: int
    title: str | None = None
    message: str | None = None
    details: str | None = None
    href: str | None = None


class ButtonOption(Value):
    id: str = Field(max_length=256)
    title: str


class ListRow(Value):
    id: str
    title: str
    description: str | None = None


class ListSection(Value):
    title: str | None = None
    rows: list[ListRow]


class TemplateSpec(Value):
    name: str
    language: str = "es_AR"
    parameters: list[str] = []


class OutboundContent(Value):
    """What we ask WhatsApp to deliver; the outbound client validates WhatsApp's limits before sending.

    kind: text | buttons | list | location_request | cta_url | template | image
    """

    kind: Literal["text", "buttons", "list", "location_request", "cta_url", "template", "image"]
    text: str | None = None
    header: str | None = None
    footer: str | None = None
    buttons: list[ButtonOption] = []
    list_button: str | None = None
    sections: list[ListSection] = []
    url: str | None = None
    url_label: str | None = None
    template: TemplateSpec | None = None
    media_link: str | None = None

    def preview(self) -> str:
        """A one-line human rendering (history, logs, the panel's bubbles)."""
        if self.kind == "template" and self.template:
            return f"[plantilla {self.template.name}]"
        return self.text or self.url or self.kind
