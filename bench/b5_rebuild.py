"""B5 — rebuilding the board projection from the tickets' event log.

Set-up (not timed): a real tickets event store on PostgreSQL, written by the tickets service's own
application and domain model — customers registering, numbers issued, tickets opened, messages
attached, intake details, status changes — saved in batches, until the log holds N events.
Timed: `mostrador.panel_api.rebuild.rebuild_parallel` replaying that log into an empty panel-api
read model (its own schema and migrations), one process per core, process start-up included. Baseline, same run, same database: reading the same
log in the same page size and decoding every event (`select_notifications` + `mapper.to_domain_event`)
and nothing else. The rebuilt board is checked against the tickets' own state.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import Goal, Recorder, Run, database_url, drop_schemas, log

PAGE = 5000
BRANCHES = ["centro", "palermo", "belgrano", "caballito"]


def tickets_app(schema: str):
    from mostrador.platform.esapp import eventsourcing_env
    from mostrador.tickets.application import TicketsApp
    return TicketsApp(env=eventsourcing_env(database_url=database_url(), sqlite_path=None, schema=schema))


def generate(app, events: int, seed: int = 5) -> dict[str, int]:
    """Real domain events, saved through the application in batches of ~200 tickets."""
    from mostrador.tickets.domainmodel import COMPLETO, EN_PROCESO, FACTURADO, Customer, Ticket, TicketNumbers

    rng = random.Random(seed)
    numbers = TicketNumbers()
    customers: dict[str, Customer] = {}
    written = tickets = 0
    start = datetime.now(UTC) - timedelta(days=60)
    batch: list[Any] = []
    while written < events:
        key = f"5491{rng.randrange(10**8):08d}" if rng.random() < 0.8 or not customers else rng.choice(list(customers))
        person = customers.get(key) or Customer(key)
        customers[key] = person
        at = start + timedelta(seconds=tickets * 20)
        customer = {"key": key, "wa_id": key, "name": "Cliente"}
        number = numbers.issue()
        ticket = Ticket(number, customer, at, f"wamid.{number}.1")
        for i in range(rng.randrange(1, 4)):
            ticket.attach_message({"message_id": f"wamid.{number}.{i + 1}",
                                   "timestamp": (at + timedelta(seconds=30 * i)).isoformat(),
                                   "customer": customer, "type": "text", "text": "quiero 2 pizzas"})
        person.start_ticket(number)
        ticket.update_details(type="PEDIDO", branch=rng.choice(BRANCHES), topic=None,
                              details={"delivery": "delivery", "address": "Av. Corrientes 1234", "order": "2 muzza"},
                              missing=[], by={"kind": "bot"}, at=at + timedelta(minutes=2))
        ticket.change_status(COMPLETO, by={"kind": "bot"}, at=at + timedelta(minutes=2), reason="intake completed")
        if rng.random() < 0.7:
            ticket.change_status(EN_PROCESO, by={"kind": "operator", "id": "op1"}, at=at + timedelta(minutes=5))
            ticket.change_status(FACTURADO, by={"kind": "operator", "id": "op1"}, at=at + timedelta(minutes=30))
        batch += [ticket, person]
        tickets += 1
        if len(batch) >= 400:
            written += _save(app, numbers, batch)
            batch = []
    if batch:
        written += _save(app, numbers, batch)
    return {"events": written, "tickets": tickets, "customers": len(customers)}


def _save(app, numbers, batch: list[Any]) -> int:
    unique = list({id(obj): obj for obj in [numbers, *batch]}.values())
    return len(app.save(*unique))


def raw_replay(app) -> dict[str, float]:
    """Read and decode the whole log, page by page, nothing else."""
    position, events = 0, 0
    start = time.perf_counter()
    while notifications := app.recorder.select_notifications(position, PAGE, inclusive_of_start=False):
        for notification in notifications:
            app.mapper.to_domain_event(notification)
        events += len(notifications)
        position = notifications[-1].id
    return {"events": events, "seconds": time.perf_counter() - start}


def verify(app, db, tickets: int, samples: int = 50) -> None:
    import json

    from mostrador.tickets.outbound import ticket_state
    row = db.one("SELECT COUNT(*) AS n FROM tickets")
    if int(row["n"]) != tickets:
        raise AssertionError(f"rebuilt board has {row['n']} tickets, the log {tickets}")
    rng = random.Random(1)
    for number in rng.sample(range(1, tickets + 1), min(samples, tickets)):
        expected = json.loads(ticket_state(app.get_ticket(number)).model_dump_json())
        stored = json.loads(db.one("SELECT state FROM tickets WHERE number = %(n)s", {"n": number})["state"])
        if stored != expected:
            raise AssertionError(f"ticket {number}: rebuilt state differs from the tickets' own")


def run(run: Run, rec: Recorder) -> None:
    import os

    from mostrador.panel_api.rebuild import rebuild_parallel
    from mostrador.platform.db import PostgresDatabase
    from mostrador.platform.esapp import eventsourcing_env

    prefix = run.schema_prefix("b5")
    run.on_cleanup(lambda: drop_schemas(prefix))
    env = eventsourcing_env(database_url=database_url(), sqlite_path=None, schema=f"{prefix}tickets")
    app = tickets_app(f"{prefix}tickets")
    parts = os.cpu_count() or 1
    try:
        log(f"B5 writing {run.profile.b5_events:,} real ticket events (tickets' own application and domain)")
        t0 = time.perf_counter()
        made = generate(app, run.profile.b5_events)
        log(f"B5 log ready: {made} in {time.perf_counter() - t0:.0f}s")
        base = raw_replay(app)  # also warms the database's cache for both
        base = raw_replay(app)
        log(f"B5 raw replay: {base['events'] / base['seconds']:,.0f} events/s")
        result = rebuild_parallel(env, database_url(), f"{prefix}panel_api", parts=parts, page_size=PAGE)
        log(f"B5 rebuild: {result}")
        db = PostgresDatabase(database_url(), f"{prefix}panel_api", pool_size=1)
        try:
            verify(app, db, made["tickets"])
        finally:
            db.close()
    finally:
        app.close()
    rate, base_rate = made["events"] / result["seconds"], base["events"] / base["seconds"]
    rec.add("board rebuild", rate, "events/s", baseline=base_rate,
            baseline_what="read + decode the same log (same pages, one process), nothing else",
            goal=Goal(">=", 0.5, "ratio"), events=made["events"], tickets=made["tickets"], seconds=result["seconds"],
            upserts=result["upserts"], ticket_events_folded=result["events"], processes=parts)
    per_million = result["seconds"] * 1_000_000 / made["events"]
    rec.add("board rebuild time per 1,000,000 events", per_million, "s", goal=Goal("<=", 60),
            measured_events=made["events"], extrapolated=made["events"] != 1_000_000)
