"""The bot service application: one Conversation per ticket, one turn per customer message.

Each turn is saved atomically with the mark that its bus message was applied (apply_once), so a
redelivered message changes nothing; the same WhatsApp message arriving under another key is
recognised by its message id and is a no-op too.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import Recording

from mostrador.bot.config import BotConfig, load_config
from mostrador.bot.domainmodel import Conversation
from mostrador.bot.flow import decide
from mostrador.events.schemas.ingest import InboundMessage
from mostrador.events.schemas.tickets import TicketState
from mostrador.platform.esapp import ServiceApplication


class BotApp(ServiceApplication):
    name = "bot"
    env = {"AGGREGATE_CACHE_MAXSIZE": "2000"}  # a conversation is read on every turn

    def __init__(self, env: dict[str, str] | None = None, config: BotConfig | None = None) -> None:
        super().__init__(env)
        self.config = config or load_config()

    def handle_message(self, ticket: TicketState, message: InboundMessage, *, key: str,
                       now: datetime) -> list[Recording]:
        """Drive the intake with one customer message filed under ``ticket``. Raises AlreadyProcessed
        when ``key`` was applied before."""

        def command() -> list[Conversation]:
            conversation = self._conversation(Conversation.create_id(ticket.ticket_id))
            customer = ticket.customer.model_dump(mode="json", exclude_none=True)
            if conversation is None:  # the ticket's first message reaching the bot
                conversation = Conversation(ticket_id=ticket.ticket_id, number=ticket.number,
                                            customer=customer, at=now)
            elif conversation.has_handled(message.message_id):
                return []
            turn = decide(self.config, conversation.state, ticket, message,
                          intake_sent=conversation.intake is not None)
            conversation.take_turn(message.message_id, now, customer, turn)
            return [conversation]

        return self.apply_once(key, command)

    def get_conversation(self, ticket_id: str) -> Conversation | None:
        return self._conversation(Conversation.create_id(ticket_id))

    def _conversation(self, conversation_id: UUID) -> Conversation | None:
        try:
            return self.repository.get(conversation_id)
        except AggregateNotFoundError:
            return None
