"""`make dlq`: list the dead letters of every service, and re-drive one service's back to its inbox.

    python -m mostrador.platform.dlq                    # list (RabbitMQ when AMQP_URL is set)
    python -m mostrador.platform.dlq --redrive tickets  # move tickets' dead letters back
Without AMQP_URL it reads the embedded mode's journal (DATA_DIR/bus.db); a re-drive there takes
effect when `make run` starts next.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3

from mostrador.events.topology import INBOXES
from mostrador.platform.settings import Settings


def _summary(body: str) -> str:
    try:
        data = json.loads(body)
        return f"{data.get('type')}.v{data.get('version')} event_id={data.get('event_id')}"
    except ValueError:
        return body[:80]


async def rabbit(settings: Settings, redrive: str | None) -> None:
    from mostrador.events.rabbit import RabbitBus
    # The deployment's delivery limit: the CLI declares the topology too, and RabbitMQ refuses a queue
    # declared with other arguments (PRECONDITION_FAILED) — with BUS_DELIVERY_LIMIT != 5 it crashed.
    bus = RabbitBus(settings.amqp_url, name="dlq-cli", namespace=settings.bus_namespace,
                    delivery_limit=settings.bus_delivery_limit)
    await bus.start()
    try:
        if redrive:
            print(f"re-drove {await bus.redrive(redrive)} message(s) to {redrive}")
            return
        for service in INBOXES:
            letters = await bus.dead_letters(service)
            print(f"{service}: {len(letters)} dead letter(s)")
            for letter in letters:
                reason = letter["headers"].get("x-first-death-reason", "")
                print(f"  {_summary(letter['body'])} {reason}")
    finally:
        await bus.stop()


def journal(settings: Settings, redrive: str | None) -> None:
    path = settings.data_dir / "bus.db"
    if not path.exists():
        print(f"no journal at {path}: nothing dead-lettered in the embedded mode")
        return
    db = sqlite3.connect(path)
    with db:
        if redrive:
            moved = db.execute("UPDATE messages SET dead = 0, delivery_count = 0 WHERE queue = ? AND dead = 1",
                               (redrive,)).rowcount
            print(f"re-drove {moved} message(s) to {redrive} (delivered when `make run` starts next)")
            return
        for service in INBOXES:
            rows = db.execute("SELECT body FROM messages WHERE queue = ? AND dead = 1", (service,)).fetchall()
            print(f"{service}: {len(rows)} dead letter(s)")
            for (body,) in rows:
                print(f"  {_summary(body.decode(errors='replace'))}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redrive", metavar="SERVICE", choices=sorted(INBOXES))
    args = parser.parse_args(argv)
    settings = Settings()
    if settings.amqp_url:
        asyncio.run(rabbit(settings, args.redrive))
    else:
        journal(settings, args.redrive)


if __name__ == "__main__":
    main()
