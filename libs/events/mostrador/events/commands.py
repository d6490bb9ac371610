"""Commands carried by request/reply (panel-api -> tickets / chat). Not events: nobody else hears them.

Each has a ``command_id`` chosen by the caller (a retry reuses it, so a command applies once) and the
``actor`` (the operator) who gives it. Replies are ``{"ok": true, "result": …}`` or
``{"ok": false, "error": {"code", "message", "status", "details"}}`` (see bus.CommandError).
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from mostrador.events.schemas.common import Actor


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    command_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    actor: Actor

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# -- tickets -------------------------------------------------------------------------------------

class ChangeStatus(Command):
    """tickets: change_status -> TicketState | invalid_transition (409) | not_found (404) | unknown_status (422)"""

    NAME: ClassVar[str] = "change_status"
    number: int
    status: str
    reason: str | None = None


# -- chat ----------------------------------------------------------------------------------------

class SendText(Command):
    """chat: send_text -> MessageState (pending) | not_in_process (409) | window_closed (409) | not_found (404)"""

    NAME: ClassVar[str] = "send_text"
    number: int
    text: str = Field(min_length=1, max_length=4096)


class Resume(Command):
    """chat: resume -> MessageState (the template, pending) | window_open (409) | not_found (404)"""

    NAME: ClassVar[str] = "resume"
    number: int


class MarkRead(Command):
    """chat: mark_read -> ConversationState"""

    NAME: ClassVar[str] = "mark_read"
    number: int


class RetrySend(Command):
    """chat: retry -> MessageState (pending again) | not_failed (409) | window_closed (409) | not_found (404)"""

    NAME: ClassVar[str] = "retry"
    number: int
    message_id: str


class GetWindow(Command):
    """chat: window -> {"open": bool, "closes_at": iso | None, "ticket_status": str | None}"""

    NAME: ClassVar[str] = "window"
    number: int
