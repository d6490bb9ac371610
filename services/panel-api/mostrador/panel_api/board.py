"""The Pedidos board query: filters that combine, search by number or phone, two sort orders, and
keyset pagination (a cursor, never OFFSET) so page 1 000 costs what page 1 costs. The total is a
capped count: exact up to ``COUNT_CAP``, then "more than" — never a full count on the hot path."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from mostrador.panel_api.filters import name_match
from mostrador.platform.db import Database

COUNT_CAP = 1000


@dataclass
class BoardQuery:
    statuses: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    branches: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    q: str | None = None
    name: list[str] = field(default_factory=list)  # lower-case words (filters.name_words)
    opened_from_ms: int | None = None  # inclusive
    opened_before_ms: int | None = None  # exclusive
    unread: bool = False
    sort: str = "newest"  # newest | last_message
    limit: int = 50
    cursor: str | None = None
    allowed_branches: list[str] | None = None  # None: every branch (admin / unrestricted operator)


class BadCursor(ValueError):
    pass


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[int]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError as exc:
        raise BadCursor("invalid cursor") from exc
    if not isinstance(values, list) or len(values) != size or not all(isinstance(v, int) for v in values):
        raise BadCursor("invalid cursor")
    return values


def _in(column: str, values: list[str], prefix: str, params: dict[str, Any]) -> str:
    names = []
    for i, value in enumerate(values):
        params[f"{prefix}{i}"] = value
        names.append(f"%({prefix}{i})s")
    return f"{column} IN ({', '.join(names)})" if names else "1 = 0"


def _prefix_range(column: str, prefix: str, name: str, params: dict[str, Any]) -> str:
    """``column`` starts with the digits ``prefix``, as a range an ordinary index serves (no LIKE)."""
    params[f"{name}_lo"] = prefix
    stripped = prefix.rstrip("9")
    if not stripped:
        return f"({column} >= %({name}_lo)s)"
    params[f"{name}_hi"] = stripped[:-1] + str(int(stripped[-1]) + 1)
    return f"({column} >= %({name}_lo)s AND {column} < %({name}_hi)s)"


def where_clause(query: BoardQuery, dialect: str) -> tuple[list[str], dict[str, Any]]:
    where: list[str] = []
    params: dict[str, Any] = {}
    if query.allowed_branches is not None:
        where.append(_in("branch", query.allowed_branches, "ab", params))
    for column, values, prefix in (("status", query.statuses, "s"), ("type", query.types, "t"),
                                   ("branch", query.branches, "b"), ("topic", query.topics, "tp")):
        if values:
            where.append(_in(column, values, prefix, params))
    if query.unread:
        where.append("unread > 0")
    if query.name:
        where.append(name_match(query.name, dialect, params))
    if query.opened_from_ms is not None:
        params["from_ms"] = query.opened_from_ms
        where.append("opened_ms >= %(from_ms)s")
    if query.opened_before_ms is not None:
        params["before_ms"] = query.opened_before_ms
        where.append("opened_ms < %(before_ms)s")
    if query.q:
        digits = "".join(ch for ch in query.q if ch.isdigit())
        if not digits:
            where.append("1 = 0")
        else:
            # Digits may be a ticket number, a phone, its beginning or its end: each is an index range.
            clause = _prefix_range("phone", digits, "p", params)
            if len(digits) >= 4:
                clause += " OR " + _prefix_range("phone_rev", digits[::-1], "r", params)
            if len(digits) <= 12:
                params["number"] = int(digits)
                clause += " OR number = %(number)s"
            where.append(f"({clause})")
    return where, params


def list_tickets(db: Database, query: BoardQuery) -> dict[str, Any]:
    where, params = where_clause(query, db.dialect)
    count_where = list(where)
    if query.sort == "last_message":
        order, keys = "last_message_ms DESC, number DESC", ["last_message_ms", "number"]
        if query.cursor:
            last_ms, last_number = decode_cursor(query.cursor, 2)
            params.update(c_ms=last_ms, c_n=last_number)
            where.append("(last_message_ms < %(c_ms)s OR (last_message_ms = %(c_ms)s AND number < %(c_n)s))")
    else:
        order, keys = "number DESC", ["number"]
        if query.cursor:
            (last_number,) = decode_cursor(query.cursor, 1)
            params["c_n"] = last_number
            where.append("number < %(c_n)s")
    sql_where = (" WHERE " + " AND ".join(where)) if where else ""
    params["limit"] = query.limit + 1
    count_params = {k: v for k, v in params.items() if not k.startswith("c_") and k != "limit"}
    count_sql_where = (" WHERE " + " AND ".join(count_where)) if count_where else ""
    with db.autocommit() as tx:  # one checkout, no BEGIN/COMMIT (bench B4); the count is an estimate anyway
        rows = tx.all(f"SELECT number, ticket_id, customer_key, phone, name, type, status, branch, topic, opened_ms,"
                      f" last_message_ms, unread, state FROM tickets{sql_where} ORDER BY {order} LIMIT %(limit)s",
                      params)
        total = tx.one(f"SELECT COUNT(*) AS n FROM (SELECT 1 FROM tickets{count_sql_where} LIMIT {COUNT_CAP + 1}) sub",
                       count_params)
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    next_cursor = encode_cursor([int(rows[-1][k]) for k in keys]) if more and rows else None
    n = int(total["n"]) if total else 0
    return {"rows": rows, "next_cursor": next_cursor, "total": min(n, COUNT_CAP), "total_capped": n > COUNT_CAP}
