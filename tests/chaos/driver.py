"""The load driver: thousands of customers, a few messages each, at a steady rate, as Meta would send
them — one signed webhook per message (HMAC-SHA256 of the raw body in ``X-Hub-Signature-256``) POSTed
to ingest, retried with backoff until HTTP 200 (Meta retries anything else for days), a customer's next
message only after the previous one was accepted (a person reads the reply before typing on), and a
few deliveries repeated after their 200 (Meta delivers at least once).

It records, per message, when it was first offered and when (and after how many attempts) it was
answered 200; the checks use exactly the set of 200-answered wamids.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httpx

from tests.e2e.harness import sign, text_message

SCRIPT = ("Hola", "1", "2")  # greeting -> "Hacer un pedido" -> a branch: one bot reply each


@dataclass
class Offered:
    wamid: str
    phone: str
    index: int  # position in the customer's script
    text: str
    body: bytes = b""
    due: float = 0.0  # scheduled (monotonic) time
    first_at: float | None = None  # wall clock of the first POST
    ok_at: float | None = None  # wall clock of the 200
    attempts: int = 0
    codes: list[int | str] = field(default_factory=list)
    duplicate_codes: list[int | str] = field(default_factory=list)
    accepted: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Driver:
    ingest_url: str
    secret: str
    customers: int
    rate: float  # messages per second offered
    tag: str  # distinguishes runs: part of phones and wamids
    gap: float = 4.0  # seconds between one customer's messages
    duplicate_every: int = 40  # every Nth accepted message is delivered again (Meta's duplicates)
    give_up_after: float = 120.0
    script: tuple[str, ...] = SCRIPT
    offered: list[Offered] = field(default_factory=list)

    def phone(self, customer: int) -> str:
        return f"54930{self.tag}{customer:05d}"

    def plan(self) -> list[Offered]:
        spacing = len(self.script) / self.rate  # a new customer every ``spacing`` seconds keeps the rate
        plan = []
        for c in range(self.customers):
            for j, text in enumerate(self.script):
                plan.append(Offered(wamid=f"wamid.CHAOS{self.tag}.{c:05d}.{j}", phone=self.phone(c), index=j,
                                    text=text, due=c * spacing + j * self.gap))
        plan.sort(key=lambda o: o.due)
        return plan

    async def run(self) -> list[Offered]:
        self.offered = self.plan()
        previous: dict[tuple[str, int], Offered] = {(o.phone, o.index): o for o in self.offered}
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(timeout=10.0, limits=limits) as client:
            start = time.monotonic()
            tasks = []
            for number, offer in enumerate(self.offered):
                delay = start + offer.due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                before = previous.get((offer.phone, offer.index - 1))
                tasks.append(asyncio.create_task(self._deliver(client, offer, before, number)))
            await asyncio.gather(*tasks)
        return self.offered

    async def _deliver(self, client: httpx.AsyncClient, offer: Offered, before: Offered | None, number: int) -> None:
        if before is not None:  # the customer types on only after their previous message went through
            await before.accepted.wait()
        offer.body = text_message(offer.wamid, offer.phone, f"Cliente {offer.phone[-5:]}", offer.text)
        offer.first_at = time.time()
        backoff, deadline = 0.25, time.monotonic() + self.give_up_after
        while time.monotonic() < deadline:
            offer.attempts += 1
            code = await self._post(client, offer.body)
            offer.codes.append(code)
            if code == 200:
                offer.ok_at = time.time()
                offer.accepted.set()
                if number % self.duplicate_every == 0:
                    await asyncio.sleep(1.0)
                    offer.duplicate_codes.append(await self._post(client, offer.body))
                return
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)
        offer.accepted.set()  # never accepted: let the customer's next message go (it is checked as such)

    async def _post(self, client: httpx.AsyncClient, body: bytes) -> int | str:
        try:
            response = await client.post(f"{self.ingest_url}/webhooks/whatsapp", content=body, headers={
                "Content-Type": "application/json", "X-Hub-Signature-256": sign(body, self.secret)})
            return response.status_code
        except httpx.HTTPError as exc:
            return type(exc).__name__

    # -- results -------------------------------------------------------------------------------------
    @property
    def accepted(self) -> list[Offered]:
        return [o for o in self.offered if o.ok_at is not None]

    def summary(self) -> dict:
        codes: dict[str, int] = {}
        for offer in self.offered:
            for code in offer.codes:
                codes[str(code)] = codes.get(str(code), 0) + 1
        accepted = self.accepted
        first = min(o.first_at for o in self.offered if o.first_at)
        last = max(o.ok_at for o in accepted) if accepted else first
        return {"offered": len(self.offered), "accepted": len(accepted), "never_accepted": len(self.offered) - len(accepted),
                "posts_by_code": codes, "retried": sum(1 for o in self.offered if o.attempts > 1),
                "duplicates_delivered": sum(len(o.duplicate_codes) for o in self.offered),
                "ingest_seconds": round(last - first, 1), "first_at": first, "last_ok_at": last}
