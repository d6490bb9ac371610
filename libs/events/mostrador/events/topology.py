"""Who consumes what. Every service declares this whole topology at start-up, before it publishes,
so no event is ever published to a queue that does not exist yet (an unrouted message is lost)."""

from __future__ import annotations

from dataclasses import dataclass

EVENTS_EXCHANGE = "events"
DEAD_LETTER_EXCHANGE = "dlx"
COMMANDS_EXCHANGE = "commands"


@dataclass(frozen=True)
class Inbox:
    service: str
    bindings: tuple[str, ...]


INBOXES: dict[str, Inbox] = {
    inbox.service: inbox
    for inbox in (
        Inbox("tickets", (
            "ingest.message.received.v1",
            "bot.intake.updated.v1", "bot.intake.completed.v1", "bot.intake.cancelled.v1",
            "scheduler.ticket.expiry_due.v1",
        )),
        Inbox("bot", ("tickets.ticket.message_received.v1",)),
        Inbox("chat", (
            "tickets.ticket.opened.v1", "tickets.ticket.message_received.v1", "tickets.ticket.status_changed.v1",
            "tickets.ticket.details_changed.v1",
            "bot.reply.requested.v1",
            # its own work item: an outbound message recorded (or retried) as pending is sent from here, durably
            "chat.send.requested.v1",
            "ingest.media.stored.v1",
            "scheduler.window.closed.v1",
        )),
        # Delivery statuses in a queue of their own: after a crash mid-send, chat waits (a grace period)
        # for the status that proves the send went out. Behind a backlog in the main inbox it came too
        # late, and the reply was sent twice (35 of 40 crash-interrupted sends in a chaos run).
        Inbox("chat-statuses", ("ingest.message.status.v1",)),
        Inbox("scheduler", (
            "tickets.ticket.opened.v1", "tickets.ticket.message_received.v1", "tickets.ticket.status_changed.v1",
        )),
        Inbox("panel-api", (
            "tickets.ticket.*.v1",
            "chat.message.*.v1", "chat.conversation.*.v1",
            "scheduler.window.closed.v1",
        )),
        Inbox("ingest", ("ingest.media.received.v1",)),  # the media fetcher: keeps receipts and photos
    )
}

# Services that answer commands (request/reply), e.g. panel-api -> tickets "change_status".
COMMAND_SERVICES = ("tickets", "chat")


def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: '*' is exactly one word, '#' is zero or more words."""
    return _match(pattern.split("."), routing_key.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return (head == "*" or head == words[0]) and _match(rest, words[1:])
