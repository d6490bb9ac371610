"""Reading what the customer sent: one inbound message becomes an Answer, and an Answer picks an option.

Customers tap buttons, but they also type the option ("envio a domicilio", "2", "Sí"): an option is
matched by its id (interactive replies), its title or 1-based number (typed, ignoring case, accents
and punctuation), a whole-message alias, or a keyword found in the text — the last only when it
points at a single option, so an ambiguous sentence is asked again rather than guessed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from mostrador.events.schemas.ingest import InboundMessage

UNREADABLE = {"audio", "video", "document", "sticker", "contacts", "order", "unsupported", "unknown"}
SILENT = {"system"}  # a number change is not the customer talking: answering would be noise


def normalize(text: str | None) -> str:
    """Lower case, no accents, punctuation as spaces: "¡Menú!" and "menu" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", plain).split())


@dataclass(frozen=True)
class Option:
    id: str
    title: str
    description: str | None = None
    keywords: tuple[str, ...] = ()  # found anywhere in the text, as whole words
    aliases: tuple[str, ...] = ()  # the whole message


@dataclass(frozen=True)
class Answer:
    kind: str  # text | reply | location | image | reaction | unreadable | silent
    text: str = ""
    reply_id: str | None = None
    location: dict[str, Any] | None = None

    @property
    def words(self) -> str:
        return normalize(self.text)


def read_answer(message: InboundMessage) -> Answer:
    if message.type in SILENT:
        return Answer("silent")
    if message.type == "reaction":
        # Taking a reaction back (no emoji) is not worth a reply; a 👍 gets a polite one.
        emoji = message.reaction.emoji if message.reaction else None
        return Answer("reaction", text=emoji or "") if emoji else Answer("silent")
    if message.interactive is not None and message.interactive.kind in ("button_reply", "list_reply"):
        return Answer("reply", text=message.interactive.title or "", reply_id=message.interactive.id)
    if message.type == "location" and message.location is not None:
        return Answer("location", location=message.location.model_dump(mode="json", exclude_none=True))
    if message.type == "image":
        return Answer("image")
    if message.type in ("text", "button") and (message.text or "").strip():
        return Answer("text", text=message.text.strip())  # type: ignore[union-attr]
    return Answer("unreadable")


def is_keyword(answer: Answer, keywords: Iterable[str]) -> bool:
    return answer.kind == "text" and answer.words in {normalize(k) for k in keywords}


def _contains(words: str, phrase: str) -> bool:
    phrase = normalize(phrase)
    return bool(phrase) and f" {phrase} " in f" {words} "


def pick(options: Sequence[Option], answer: Answer, *, keywords: bool = True) -> Option | None:
    if answer.kind == "reply":
        return next((o for o in options if o.id == answer.reply_id), None)
    if answer.kind != "text":
        return None
    words = answer.words
    if words.isdigit():
        n = int(words)
        return options[n - 1] if 1 <= n <= len(options) else None
    for option in options:
        if words == normalize(option.title) or words in {normalize(a) for a in option.aliases}:
            return option
    if keywords:
        hits = [o for o in options if any(_contains(words, k) for k in o.keywords)]
        if len(hits) == 1:
            return hits[0]
    return None


def pick_by_keywords(options: Sequence[Option], answer: Answer) -> Option | None:
    """Only a keyword match: for guessing intent from a sentence, never from a bare number."""
    if answer.kind != "text":
        return None
    hits = [o for o in options if any(_contains(answer.words, k) for k in o.keywords)]
    return hits[0] if len(hits) == 1 else None
