"""Payload schemas, one class per (type, version). ALL_PAYLOADS feeds the registry and AsyncAPI."""

from mostrador.events.envelope import EventPayload
from mostrador.events.schemas import bot, chat, ingest, scheduler, tickets

ALL_PAYLOADS: list[type[EventPayload]] = [
    ingest.MessageReceived,
    ingest.StatusReceived,
    ingest.MediaReceived,
    ingest.MediaStored,
    tickets.TicketOpened,
    tickets.MessageAttached,
    tickets.StatusChanged,
    tickets.DetailsChanged,
    bot.IntakeUpdated,
    bot.IntakeCompleted,
    bot.IntakeCancelled,
    bot.ReplyRequested,
    chat.MessageRecorded,
    chat.MessageUpdated,
    chat.ConversationRead,
    chat.SendFailed,
    chat.SendRequested,
    scheduler.ExpiryDue,
    scheduler.WindowClosed,
]
