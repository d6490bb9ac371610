"""The Pedidos board query: filters that combine, search by number or phone, two sort orders, and
keyset pagination (a cursor, never OFFSET) so page 1 000 costs what page 1 costs. The total is a
capped count: exact up to ``COUNT_CAP``, then "more than" — never a full count on the hot path. It is
counted with the first page only and travels in the cursor: a later page repeats it instead of
counting again (the count was half of a later page's work; bench B4)."""

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


def decode_cursor(cursor: str, size: int) -> tuple[list[int], tuple[int, bool] | None]:
    """The sort keys of the last row seen, and the first page's (total, capped) — None in a cursor
    made before the total travelled in it (then the page counts again)."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError as exc:
        raise BadCursor("invalid cursor") from exc
    if not isinstance(values, list) or len(values) not in (size, size + 2) \
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise BadCursor("invalid cursor")
    if len(values) == size:
        return values, None
    total, capped = values[size:]
    if not 0 <= total <= COUNT_CAP or capped not in (0, 1):
        raise BadCursor("invalid cursor")
    return values[:size], (total, bool(capped))


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


@dataclass
class Plan:
    """A board request as SQL: the page's statement (on the first page with the capped count in a
    column), the count's own for a cursor that did not bring the total along, and what turns their
    rows into the page."""

    statements: list[tuple[str, dict[str, Any]]]
    keys: list[str]  # the sort keys, which the next cursor carries
    limit: int
    counted: tuple[int, bool] | None  # (total, capped) from the cursor


def plan(query: BoardQuery, dialect: str) -> Plan:
    where, params = where_clause(query, dialect)
    count_where = list(where)
    counted: tuple[int, bool] | None = None
    if query.sort == "last_message":
        order, keys = "last_message_ms DESC, number DESC", ["last_message_ms", "number"]
        if query.cursor:
            (last_ms, last_number), counted = decode_cursor(query.cursor, 2)
            params.update(c_ms=last_ms, c_n=last_number)
            where.append("(last_message_ms < %(c_ms)s OR (last_message_ms = %(c_ms)s AND number < %(c_n)s))")
    else:
        order, keys = "number DESC", ["number"]
        if query.cursor:
            (last_number,), counted = decode_cursor(query.cursor, 1)
            params["c_n"] = last_number
            where.append("number < %(c_n)s")
    sql_where = (" WHERE " + " AND ".join(where)) if where else ""
    count_where_sql = (" WHERE " + " AND ".join(count_where)) if count_where else ""
    count = (f"SELECT COUNT(*) AS total_n FROM (SELECT 1 FROM tickets{count_where_sql}"
             f" LIMIT {COUNT_CAP + 1}) sub")
    count_params = {k: v for k, v in params.items() if not k.startswith("c_")}
    columns = ("number, ticket_id, customer_key, phone, name, type, status, branch, topic, opened_ms,"
               " last_message_ms, unread, missing")
    if counted is None and not query.cursor:
        # The first page counts in the same statement (one round trip, not two): an uncorrelated
        # subquery, evaluated once. No row means no match, so no row needs no count.
        columns += f", ({count}) AS total_n"
    params["limit"] = query.limit + 1
    statements = [(f"SELECT {columns} FROM tickets{sql_where} ORDER BY {order} LIMIT %(limit)s", params)]
    if counted is None and query.cursor:  # a cursor from before the total travelled in it
        statements.append((count, count_params))
    return Plan(statements, keys, query.limit, counted)


def page(plan: Plan, results: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """The page from the rows of ``plan``'s statements."""
    rows = results[0]
    if plan.counted is None:
        count_rows = results[-1]  # the page's own rows, or the separate count's one row
        n = int(count_rows[0]["total_n"]) if count_rows else 0
        total, capped = min(n, COUNT_CAP), n > COUNT_CAP
    else:
        total, capped = plan.counted
    more = len(rows) > plan.limit
    rows = rows[:plan.limit]
    next_cursor = encode_cursor([*(int(rows[-1][k]) for k in plan.keys), total, int(capped)]) if more and rows else None
    return {"rows": rows, "next_cursor": next_cursor, "total": total, "total_capped": capped}


def list_tickets(db: Database, query: BoardQuery) -> dict[str, Any]:
    todo = plan(query, db.dialect)
    with db.autocommit() as tx:  # one checkout, no BEGIN/COMMIT (bench B4); the count is an estimate anyway
        return page(todo, [tx.all(sql, params) for sql, params in todo.statements])


async def list_tickets_async(db: Database, query: BoardQuery) -> dict[str, Any]:
    """The same from the event loop: on PostgreSQL without a worker thread (Database.read)."""
    todo = plan(query, db.dialect)
    return page(todo, await db.read(todo.statements))
