"""The Pedidos filters that need more than equality: the customer's name (word prefixes, any case,
an index range on PostgreSQL) and the opened-time range (ISO dates or datetimes)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

# The name, lower-cased. LIKE 'luc% fer%' on it is an index range on PostgreSQL (views.POSTGRES_SCHEMA)
# read lazily, so even the capped count stops after COUNT_CAP matches. Matching later words on their
# own ("fer") would need an OR of two such ranges, which PostgreSQL reads whole (bench B4).
NAME_KEY = {"postgres": "lower(name)", "sqlite": "lower_unicode(name)"}


class BadDate(ValueError):
    pass


def opened_bound(value: str, *, end: bool) -> int:
    """One end of the Fecha filter in ms: a date is its whole day (its start for 'from', the start of the
    next day for 'to'), a datetime is that instant ('to' includes it); UTC unless an offset is given."""
    name = "to" if end else "from"
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            at = datetime.combine(day + timedelta(days=1) if end else day, time(), UTC)
            return int(at.timestamp() * 1000)
        at = datetime.fromisoformat(value)
    except ValueError:
        raise BadDate(f"{name}: {value!r} is not an ISO date (2026-09-15) or datetime "
                      "(2026-09-15T08:30:00-03:00)") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return int(at.timestamp() * 1000) + (1 if end else 0)


def name_words(text: str) -> list[str]:
    """What a name filter matches on: lower-case words, without LIKE's wildcards and escape."""
    return "".join(" " if ch in "%_\\" else ch for ch in text).lower().split()


def name_match(words: list[str], dialect: str, params: dict[str, Any]) -> str:
    """The name starts with the first typed word and each next one starts a later word of it, in order:
    "luc", "lucía fer" and "luc fer" all find "Lucía Fernández"."""
    params["name"] = "% ".join(words) + "%"
    return f"{NAME_KEY[dialect]} LIKE %(name)s"

