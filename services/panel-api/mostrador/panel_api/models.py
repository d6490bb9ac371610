"""Request and response shapes of the panel API: they make /openapi.json the real contract.

Inputs are strict allow-lists (statuses, types, roles) with length limits (ASVS V5), and strictly typed:
a value of the wrong JSON type is a 422, never coerced (``"active": 0`` or ``"false"`` must not quietly
deactivate a user); outputs list every field the UI reads, so a schema fuzzer can check responses
against them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mostrador.events.schemas.tickets import TicketStatus, TicketType

Role = Literal["admin", "operator"]
USERNAME = r"^[a-z0-9][a-z0-9._-]{1,39}$"
# ASVS 2.1.1/2.1.2: at least 12 characters, at most 128; no composition rules.
NewPassword = Field(min_length=12, max_length=128)


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=False)


class ErrorOut(BaseModel):
    error: str
    message: str
    details: Any | None = None


# -- users and auth ---------------------------------------------------------------------------

class UserOut(BaseModel):
    username: str
    display_name: str
    role: Role
    branches: list[str] | None = Field(None, description="null: every branch")
    active: bool


class LoginIn(Input):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1024)


class LoginOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    user: UserOut
    csrf_token: str


class MeOut(BaseModel):
    user: UserOut
    csrf_token: str | None = Field(None, description="for writes authenticated by the session cookie")


class PasswordIn(Input):
    current: str = Field(min_length=1, max_length=1024)
    new: str = NewPassword


class UserCreate(Input):
    username: str = Field(pattern=USERNAME)
    display_name: str = Field(min_length=1, max_length=80)
    password: str = NewPassword
    role: Role = "operator"
    branches: list[str] | None = Field(None, max_length=50)


class UserPatch(Input):
    display_name: str | None = Field(None, min_length=1, max_length=80)
    role: Role | None = None
    branches: list[str] | None = Field(None, max_length=50)
    unrestricted: bool | None = Field(None, description="true: clear the branch restriction")
    active: bool | None = None


class ResetIn(Input):
    password: str = NewPassword


class RevokedOut(BaseModel):
    revoked: int


# -- tickets ----------------------------------------------------------------------------------

class TicketSummary(BaseModel):
    number: int
    ticket_id: str
    opened_at: str | None
    last_message_at: str | None
    name: str | None
    phone: str | None
    customer_key: str
    type: TicketType
    status: TicketStatus
    branch: str | None
    topic: str | None
    unread: int
    missing: list[str] = []


class TicketPage(BaseModel):
    items: list[TicketSummary]
    next_cursor: str | None
    total: int = Field(description="tickets matching the filters, counted up to 1,000 with the first page; "
                                   "a later page (with a cursor) repeats the first page's figure")
    total_capped: bool = Field(False, description="true: there are more than `total`")


class LocationOut(BaseModel):
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None
    map_url: str


class DetailsOut(BaseModel):
    delivery: str | None = None
    address: str | None = None
    location: LocationOut | None = None
    order: str | None = None
    name: str | None = None
    notes: str | None = None
    extra: dict[str, str] = {}


class ActorOut(BaseModel):
    kind: str
    id: str | None = None
    name: str | None = None


class HistoryOut(BaseModel):
    from_status: str | None
    to_status: str
    at: str
    by: ActorOut
    reason: str | None = None


class WindowOut(BaseModel):
    open: bool
    closes_at: str | None


class TicketDetail(TicketSummary):
    details: DetailsOut
    history: list[HistoryOut]
    window: WindowOut
    server_time: str = Field(description="the server's clock, so the UI's countdown ignores a skewed client clock")
    message_count: int


class StatusIn(Input):
    status: TicketStatus


class MediaOut(BaseModel):
    id: str
    mime_type: str | None = None
    caption: str | None = None
    filename: str | None = None
    url: str


class ErrorInfo(BaseModel):
    code: int | None = None
    title: str | None = None
    message: str | None = None
    details: str | None = None


class OptionOut(BaseModel):
    id: str | None = None
    title: str
    description: str | None = None


class MessageOut(BaseModel):
    message_id: str
    version: int = Field(0, description="rises with every change of the message: the highest is the newest")
    number: int | None
    direction: Literal["in", "out"]
    author: ActorOut
    at: str
    type: str = Field(description="text, image, location, buttons, list, template, interactive …")
    text: str | None = None
    header: str | None = None
    footer: str | None = None
    media: MediaOut | None = None
    location: LocationOut | None = None
    options: list[OptionOut] = Field([], description="buttons or list rows the bot offered")
    list_button: str | None = None
    reply_to_option: OptionOut | None = Field(None, description="the button/row the customer chose")
    template: str | None = None
    url: str | None = None
    status: str
    status_at: str | None = None
    error: ErrorInfo | None = None
    attempts: int = 0


class MessagesOut(BaseModel):
    items: list[MessageOut]
    window: WindowOut


class SendIn(Input):
    text: str = Field(min_length=1, max_length=4096)


class AcceptedOut(BaseModel):
    accepted: bool = True
    message: MessageOut | None = None


class ReadOut(BaseModel):
    number: int
    unread: int


class UnreadOut(BaseModel):
    tickets: int = Field(description="tickets with unread customer messages, in the caller's branches")


class BranchOut(BaseModel):
    id: str
    name: str
    address: str | None = None
    hours: str | None = None


class TopicOut(BaseModel):
    id: str
    title: str
    description: str | None = None
