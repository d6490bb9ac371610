"""B4 — the Pedidos board list over a big read model, through the real panel-api process.

Seeding writes the read model directly (COPY into panel-api's own `tickets` table, created by its
own migrations, then its own indexes and ANALYZE) — N tickets with a desk's shape: 8 branches plus
unassigned ones, every status and type, help topics, unique phones, ~1 % unread, two years of
history. (B5 rebuilds from real events; this one measures reads.)

panel-api runs as one worker process per core (WORKERS). Timed, at 1 client: GET /api/tickets
(bearer token) for every filter, combined filters, phone search (whole, start, end), ticket number,
sort by last message, unread only, each on its first page and on a later page reached by following
the cursor; at 16 clients: wrk rotating over the same URLs.
Baseline, same run: the very SQL each of those requests ran (captured from the board query) through
psycopg directly — sequentially, then from 16 threads with a connection each.
Also checked (EXPLAIN ANALYZE): no statement on the list path has an OFFSET or an uncapped COUNT, or
touches more than 10,000 rows or index entries (ten times the capped count) — work that grows with
the table.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.common import ADMIN, Goal, Recorder, Run, database_url, drop_schemas, log, percentile
from bench.loadgen import RawHttp, run_wrk, wrk_rotate_script

BRANCHES = ["centro", "palermo", "belgrano", "caballito", "flores", "nunez", "recoleta", "villa-urquiza"]
TOPICS = ["estado", "reclamo", "facturacion", "otro"]
STATUSES = [("FACTURADO", 30), ("RESUELTO", 14), ("CANCELADO", 10), ("VENCIDO", 10), ("NO CONTESTA", 5),
            ("EN PROCESO", 9), ("COMPLETO", 11), ("INCOMPLETO", 11)]
OPEN = {"EN PROCESO", "COMPLETO", "INCOMPLETO"}
COLUMNS = ("number", "ticket_id", "version", "customer_key", "phone", "phone_rev", "name", "type", "status",
           "branch", "topic", "opened_ms", "last_message_ms", "unread", "state", "missing")
NAMES = ["Lucía Fernández", "Martín Gómez", "Sofía Rodríguez", "Juan Pérez", "Valentina López", "Mateo Díaz",
         "Camila Martínez", "Benjamín Sánchez", "Agustina Romero", "Tomás Álvarez"]


def iso(ms: int) -> str:
    from datetime import UTC, datetime
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def rows(n: int, seed: int = 6):
    rng = random.Random(seed)
    statuses = [s for s, w in STATUSES for _ in range(w)]
    now = int(time.time() * 1000)
    span = 2 * 365 * 86_400_000
    start = now - span
    for number in range(1, n + 1):
        phone = f"549{rng.randrange(10**9, 10**10)}"
        kind = "AYUDA" if rng.random() < 0.2 else "PEDIDO"
        status = rng.choice(statuses)
        branch = None if rng.random() < 0.04 else rng.choice(BRANCHES)
        topic = rng.choice(TOPICS) if kind == "AYUDA" else None
        opened = start + span * number // n
        last = opened + rng.randrange(0, 2 * 86_400_000)
        unread = rng.randrange(1, 4) if status in OPEN and rng.random() < 0.08 else 0
        name = rng.choice(NAMES)
        history = [{"from_status": None, "to_status": "INCOMPLETO", "at": iso(opened), "by": {"kind": "system"},
                    "reason": None}]
        if status != "INCOMPLETO":
            history.append({"from_status": "INCOMPLETO", "to_status": status, "at": iso(last),
                            "by": {"kind": "operator", "id": "op1"}, "reason": None})
        missing = ["address"] if status == "INCOMPLETO" and kind == "PEDIDO" else []
        ticket_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        state = {"ticket_id": ticket_id, "number": number, "version": len(history) + 1,
                 "customer": {"key": phone, "wa_id": phone, "name": name}, "type": kind, "status": status,
                 "branch": branch, "topic": topic,
                 "details": {"delivery": "delivery", "address": "Av. Corrientes 1234", "order": "2 pizzas muzza",
                             "name": name, "extra": {}} if kind == "PEDIDO" else {"extra": {}},
                 "missing": missing, "opened_at": iso(opened), "first_message_id": f"wamid.{number}",
                 "last_message_at": iso(last), "last_message_id": f"wamid.{number}.l", "message_count": 3,
                 "history": history}
        yield (number, ticket_id, len(history) + 1, phone, phone, phone[::-1], name, kind, status, branch, topic,
               opened, last, unread, json.dumps(state, separators=(",", ":")),  # compact, as pydantic writes it
               json.dumps(missing, separators=(",", ":")))


def seed(schema: str, n: int) -> dict[str, Any]:
    """panel-api's own schema and indexes, then N rows by COPY (indexes dropped and rebuilt around it)."""
    import psycopg

    from mostrador.panel_api.views import POSTGRES_SCHEMA, SCHEMA
    from mostrador.platform.db import PostgresDatabase

    db = PostgresDatabase(database_url(), schema, pool_size=1)
    try:
        db.migrate(SCHEMA + POSTGRES_SCHEMA)
    finally:
        db.close()
    indexes = [s for s in SCHEMA + POSTGRES_SCHEMA if s.lstrip().upper().startswith("CREATE INDEX") and " ON tickets " in s]
    t0 = time.perf_counter()
    with psycopg.connect(database_url(), options=f"-c search_path={schema}") as conn:
        for statement in indexes:
            conn.execute(f"DROP INDEX IF EXISTS {statement.split('EXISTS')[1].split()[0]}")
        with conn.cursor() as cur, cur.copy(f"COPY tickets ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows(n):
                copy.write_row(row)
        conn.commit()
        copied = time.perf_counter() - t0
        conn.execute("SET maintenance_work_mem = '256MB'")
        for statement in indexes:
            conn.execute(statement)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE tickets")  # what autovacuum does to a settled table (visibility map)
        size = conn.execute("SELECT pg_total_relation_size('tickets')").fetchone()[0]
    return {"rows": n, "copy_s": copied, "total_s": time.perf_counter() - t0, "size_mb": size / 2**20}


def scenarios(schema: str) -> list[tuple[str, dict[str, Any]]]:
    """(name, query parameters) — values taken from the seeded data so searches find something."""
    import psycopg
    with psycopg.connect(database_url(), options=f"-c search_path={schema}") as conn:
        phone, number, opened = conn.execute("SELECT phone, number, opened_ms FROM tickets WHERE number = "
                                             "(SELECT MAX(number) / 2 FROM tickets)").fetchone()
        newest = conn.execute("SELECT MAX(opened_ms) FROM tickets").fetchone()[0]
    day = iso(opened)[:10]  # a day a year back: the «Fecha» filter far from the newest tickets
    week_ago = iso(newest - 7 * 86_400_000)
    return [
        ("all, newest", {}),
        ("status", {"status": "INCOMPLETO"}),
        ("two statuses", {"status": ["COMPLETO", "EN PROCESO"]}),
        ("type", {"type": "AYUDA"}),
        ("branch", {"branch": "palermo"}),
        ("branch + status", {"branch": "centro", "status": "COMPLETO"}),
        ("topic", {"topic": "reclamo"}),
        ("status + type + branch", {"status": "EN PROCESO", "type": "PEDIDO", "branch": "belgrano"}),
        ("phone, whole", {"q": phone}),
        ("phone, start", {"q": phone[:8]}),
        ("phone, end", {"q": phone[-5:]}),
        ("ticket number", {"q": str(number)}),
        ("sort by last message", {"sort": "last_message"}),
        ("last message + branch", {"sort": "last_message", "branch": "flores"}),
        ("last message + status", {"sort": "last_message", "status": "INCOMPLETO"}),
        ("unread only", {"unread": "true"}),
        ("unread + last message", {"unread": "true", "sort": "last_message"}),
        ("unread + branch", {"unread": "true", "branch": "recoleta"}),
        ("name, start", {"name": "luc"}),
        ("name, two words", {"name": "mart góm"}),
        ("opened on a day a year ago", {"from": day, "to": day}),
        ("opened in the last week", {"from": week_ago}),
        ("opened a year ago + status", {"from": day, "to": day, "status": "FACTURADO"}),
        ("opened a year ago + name", {"from": day, "to": day, "name": "juan"}),
    ]


def path_of(params: dict[str, Any], cursor: str | None = None) -> str:
    pairs = [(k, v) for k, values in params.items() for v in (values if isinstance(values, list) else [values])]
    if cursor:
        pairs.append(("cursor", cursor))
    return "/api/tickets" + ("?" + urlencode(pairs) if pairs else "")


def board_query(params: dict[str, Any], cursor: str | None):
    from mostrador.panel_api.board import BoardQuery

    def listed(key: str) -> list[str]:
        value = params.get(key)
        return [] if value is None else value if isinstance(value, list) else [value]

    from mostrador.panel_api.filters import name_words, opened_bound

    name, start, end = params.get("name"), params.get("from"), params.get("to")
    return BoardQuery(statuses=listed("status"), types=listed("type"), branches=listed("branch"),
                      topics=listed("topic"), q=params.get("q"), unread=params.get("unread") == "true",
                      name=name_words(name) if name else [],
                      opened_from_ms=opened_bound(start, end=False) if start else None,
                      opened_before_ms=opened_bound(end, end=True) if end else None,
                      sort=params.get("sort", "newest"), cursor=cursor)


class Capture:
    """A Database that runs statements on a plain psycopg connection and remembers them."""

    dialect = "postgres"

    def __init__(self, conn) -> None:
        self.conn, self.statements = conn, []

    def all(self, sql, params=None):
        self.statements.append((sql, dict(params or {})))
        cur = self.conn.execute(sql, params or {})
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def one(self, sql, params=None):
        found = self.all(sql, params)
        return found[0] if found else None

    @contextlib.contextmanager
    def autocommit(self):
        yield self


def plan_pages(schema: str, cases: list[tuple[str, dict]], depth: int) -> list[dict[str, Any]]:
    """Each case's first page and its page ``depth`` (cursor followed through the real board query),
    with the SQL each request runs."""
    import psycopg

    from mostrador.panel_api.board import list_tickets
    out = []
    with psycopg.connect(database_url(), options=f"-c search_path={schema}", autocommit=True) as conn:
        for name, params in cases:
            cursor, page = None, 1
            while True:
                capture = Capture(conn)
                result = list_tickets(capture, board_query(params, cursor))
                if page in (1, depth):
                    out.append({"name": name if page == 1 else f"{name} (page {depth})", "path": path_of(params, cursor),
                                "sql": capture.statements, "rows": len(result["rows"])})
                if page >= depth or not result["next_cursor"]:
                    break
                cursor, page = result["next_cursor"], page + 1
    return out


EXAMINED_LIMIT = 10_000  # index entries + rows one list statement may touch: 10x the capped count


def examined(plan: dict[str, Any]) -> int:
    """Rows and index entries a plan's scans touched (including those its filters threw away)."""
    total = 0
    if "Scan" in plan.get("Node Type", ""):
        total += int((plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)
                      + plan.get("Rows Removed by Index Recheck", 0)) * plan.get("Actual Loops", 1))
    return total + sum(examined(child) for child in plan.get("Plans", []))


def hot_path_problems(schema: str, pages: list[dict[str, Any]]) -> list[str]:
    """OFFSET, an uncapped COUNT, or a statement whose work grows with the table."""
    import psycopg
    problems = []
    with psycopg.connect(database_url(), options=f"-c search_path={schema}", autocommit=True) as conn:
        for page in pages:
            for sql, params in page["sql"]:
                upper = " ".join(sql.upper().split())
                if " OFFSET " in upper:
                    problems.append(f"{page['name']}: OFFSET")
                if "COUNT(" in upper and " LIMIT " not in upper:
                    problems.append(f"{page['name']}: uncapped COUNT")
                plan = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params).fetchone()[0][0]["Plan"]
                touched = examined(plan)
                if touched > EXAMINED_LIMIT:
                    kind = "count" if upper.startswith("SELECT COUNT(") else "page"
                    problems.append(f"{page['name']}: {kind} touches {touched:,} rows")
    return sorted(set(problems))


def sql_latencies(schema: str, pages: list[dict[str, Any]], per_page: int) -> dict[str, list[float]]:
    import psycopg
    out: dict[str, list[float]] = {}
    with psycopg.connect(database_url(), options=f"-c search_path={schema}", autocommit=True) as conn:
        for page in pages:
            for sql, params in page["sql"]:  # warm
                conn.execute(sql, params).fetchall()
            times = []
            for _ in range(per_page):
                start = time.perf_counter()
                for sql, params in page["sql"]:
                    conn.execute(sql, params).fetchall()
                times.append(time.perf_counter() - start)
            out[page["name"]] = times
    return out


def sql_concurrent(schema: str, pages: list[dict[str, Any]], clients: int, seconds: float) -> dict[str, float]:
    import psycopg
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(offset: int) -> None:
        mine = []
        with psycopg.connect(database_url(), options=f"-c search_path={schema}", autocommit=True) as conn:
            i = offset
            while time.perf_counter() < deadline:
                page = pages[i % len(pages)]
                i += 1
                start = time.perf_counter()
                for sql, params in page["sql"]:
                    conn.execute(sql, params).fetchall()
                mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i * 3,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    ms = [x * 1000 for x in latencies]
    return {"p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95), "p99_ms": percentile(ms, 99),
            "rps": len(ms) / elapsed}


async def api_latencies(port: int, token: str, pages: list[dict[str, Any]], per_page: int) -> dict[str, list[float]]:
    http = RawHttp("127.0.0.1", port, connections=1)
    headers = {"Authorization": f"Bearer {token}"}
    out: dict[str, list[float]] = {}
    try:
        for page in pages:
            status, body = await http.request("GET", page["path"], headers=headers)
            if status != 200:
                raise RuntimeError(f"{page['path']}: {status} {body[:300]!r}")
            if len(json.loads(body)["items"]) != page["rows"]:
                raise RuntimeError(f"{page['name']}: the API and the SQL disagree")
            times = []
            for _ in range(per_page):
                start = time.perf_counter()
                status, _ = await http.request("GET", page["path"], headers=headers)
                times.append(time.perf_counter() - start)
                if status != 200:
                    raise RuntimeError(f"{page['path']}: {status}")
            out[page["name"]] = times
    finally:
        await http.close()
    return out


def login(port: int) -> str:
    import httpx
    response = httpx.post(f"http://127.0.0.1:{port}/api/auth/login", timeout=30,
                          json={"username": ADMIN[0], "password": ADMIN[1]})
    response.raise_for_status()
    return response.json()["access_token"]


def worst(latencies: dict[str, list[float]], q: float) -> tuple[str, float]:
    name = max(latencies, key=lambda k: percentile(latencies[k], q))
    return name, percentile(latencies[name], q) * 1000


def desk_config(run: Run) -> Path:
    """A bot configuration naming the seeded desk's branches and topics: the panel refuses a filter on
    a branch or topic it does not know (422)."""
    import yaml

    branches = [{"id": b, "name": f"Sucursal {b.replace('-', ' ').title()}", "address": "Av. Siempre Viva 742",
                 "hours": "de 11 a 23 h"} for b in BRANCHES]
    path = run.work_dir / "b4-bot.yaml"
    path.write_text(yaml.safe_dump({"branches": branches, "topics": [{"id": t, "title": t.title()} for t in TOPICS]},
                                   allow_unicode=True))
    return path


def run(run: Run, rec: Recorder) -> None:
    from bench.common import delete_namespace, one_service

    profile = run.profile
    prefix, namespace = run.schema_prefix("b4"), run.namespace("b4")
    schema = f"{prefix}panel_api"
    run.on_cleanup(lambda: drop_schemas(prefix))
    log(f"B4 seeding {profile.b4_tickets:,} tickets into panel-api's read model (COPY)")
    seeded = seed(schema, profile.b4_tickets)
    log(f"B4 seeded: {seeded}")
    run.on_cleanup(lambda: delete_namespace(namespace))
    workers = os.cpu_count() or 1  # WORKERS: one panel-api process per core, as deployed for a busy desk
    _cluster, port = one_service(run, "panel-api", "b4", {"ADMIN_USERNAME": ADMIN[0], "ADMIN_PASSWORD": ADMIN[1],
                                                          "BOT_CONFIG": str(desk_config(run)),
                                                          "WORKERS": str(workers)})
    token = login(port)
    pages = plan_pages(schema, scenarios(schema), depth=10)
    problems = hot_path_problems(schema, pages)
    per_page = profile.b4_requests
    log(f"B4 {len(pages)} requests x {per_page} at 1 client (API, then the same SQL via psycopg)")
    api = asyncio.run(api_latencies(port, token, pages, per_page))
    sql = sql_latencies(schema, pages, per_page)
    api_all = [x * 1000 for v in api.values() for x in v]
    sql_all = [x * 1000 for v in sql.values() for x in v]
    worst_name, worst_p95 = worst(api, 95)
    per_case = {name: round(percentile(api[name], 95) * 1000, 2) for name in api}
    rec.add("list p95, 1 client (all requests)", percentile(api_all, 95), "ms", baseline=percentile(sql_all, 95),
            baseline_what="the same SQL via psycopg, 1 client", goal=Goal("<=", 10), tickets=profile.b4_tickets,
            p50_ms=percentile(api_all, 50), p99_ms=percentile(api_all, 99), requests=len(api_all),
            scenarios=len(pages), per_scenario_p95_ms=per_case, seed=seeded)
    rec.add("list p95, 1 client (worst scenario)", worst_p95, "ms",
            baseline=percentile(sql[worst_name], 95) * 1000, baseline_what="its SQL via psycopg",
            goal=Goal("<=", 10), scenario=worst_name)
    log(f"B4 16 clients for {profile.b4_seconds:g}s (wrk over {len(pages)} URLs, then 16 psycopg threads)")
    script = wrk_rotate_script([p["path"] for p in pages], {"Authorization": f"Bearer {token}"})
    report = run_wrk(f"http://127.0.0.1:{port}", script, connections=16, seconds=profile.b4_seconds)
    base16 = sql_concurrent(schema, pages, 16, profile.b4_seconds)
    rec.add("list p95, 16 clients", report["p95_ms"], "ms", baseline=base16["p95_ms"],
            baseline_what="the same SQL mix via psycopg, 16 threads", goal=Goal("<=", 50), rps=report["rps"],
            p50_ms=report["p50_ms"], p99_ms=report["p99_ms"], non2xx=report["non2xx"], sql_rps=base16["rps"],
            panel_workers=workers)
    rec.add("list statements with OFFSET, uncapped COUNT or touching > 10,000 rows", len(problems), "statements",
            goal=Goal("<=", 0), problems=problems[:20])
