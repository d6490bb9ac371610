"""The fake Graph's memory: customers, every request, outbound messages and their statuses, media.

It also plays Meta's side of the webhooks: signed POSTs of inbound messages and status
updates to ``webhook_url``, retried a few times on anything but 200 (like Meta, only faster).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import time
from collections import Counter
from collections.abc import Coroutine
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import httpx

from mostrador.whatsapp.fakegraph_checks import status_error
from mostrador.whatsapp.fakegraph_payloads import (
    PRESETS, InboundSpec, SimCustomer, build_statuses, encode, envelope, message_item, mint_user_id,
    new_media_id, new_wamid, status_item,
)
from mostrador.whatsapp.fakegraph_webhooks import post_signed

RANK = {"accepted": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}
TYPING_SECONDS = 25.0  # Meta dismisses the typing indicator after 25 s or on our reply


@dataclass
class InjectedError:
    code: int
    http_status: int
    count: int = 1
    retry_after: float | None = None
    recipient: str | None = None  # only sends to this customer (wa_id, user_id or key); None = any
    mode: Literal["sync", "async"] = "sync"  # async: accept (200 + wamid), then a "failed" status webhook
    title: str | None = None
    details: str | None = None


@dataclass
class Outbound:
    seq: int
    wamid: str
    customer: str
    type: str
    body: dict[str, Any]
    key: str | None
    at: float
    status: str = "accepted"
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Inbound:
    seq: int
    wamid: str
    customer: str
    message: dict[str, Any]
    at: float
    status_code: int | None = None
    attempts: int = 0
    read: bool = False  # the business marked it read (mark_read): blue ticks on the customer's side


class FakeGraphState:
    def __init__(
        self, *, app_secret: str, webhook_url: str | None, phone_number_id: str, display_phone_number: str,
        access_token: str | None = None, webhook_transport: httpx.AsyncBaseTransport | None = None,
        status_delays: tuple[float, float] = (0.05, 0.1), auto_read: bool = False, waba_id: str,
        webhook_retry_delays: tuple[float, ...] = (0.2, 1.0),
    ) -> None:
        self.app_secret = app_secret
        self.webhook_url = webhook_url
        self.phone_number_id = phone_number_id
        self.display_phone_number = display_phone_number
        self.access_token = access_token
        self.webhook_transport = webhook_transport
        self.status_delays = status_delays
        self.auto_read = auto_read
        self.waba_id = waba_id
        self.webhook_retry_delays = webhook_retry_delays
        self.customers: dict[str, SimCustomer] = {}
        for preset in PRESETS:
            self.register(SimCustomer(**asdict(preset)))
        self.media: dict[str, tuple[bytes, str, str]] = {}  # id → (data, mime type, sha256 base64)
        self.errors: list[InjectedError] = []
        self.version = 0
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._webhook_client: httpx.AsyncClient | None = None
        self.reset()

    # --- records -------------------------------------------------------------------------------
    def reset(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.sends_per_key: Counter[str] = Counter()
        self.outbound: dict[str, Outbound] = {}
        self.inbound: list[Inbound] = []
        self.webhooks: list[dict[str, Any]] = []
        self.typing_until: dict[str, float] = {}
        self.errors = []
        self._seq = 0
        self.notify()

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def record(self, **entry: Any) -> dict[str, Any]:
        entry = {"seq": self.next_seq(), "at": time.time()} | entry
        self.requests.append(entry)
        self.notify()
        return entry

    def notify(self) -> None:
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_change(self, since: int, timeout: float) -> None:
        """Long-poll support: return once the state moved past ``since`` (or after ``timeout``)."""
        if self.version != since or timeout <= 0:
            return
        changed = self._changed
        try:
            await asyncio.wait_for(changed.wait(), timeout)
        except TimeoutError:
            pass

    # --- customers -----------------------------------------------------------------------------
    def find(self, *, wa_id: str | None = None, user_id: str | None = None) -> SimCustomer | None:
        for customer in self.customers.values():
            if (wa_id and customer.wa_id == wa_id) or (user_id and customer.user_id == user_id):
                return customer
        return None

    def register(self, customer: SimCustomer) -> SimCustomer:
        """Remember a customer (matched by phone or BSUID); ids of a known one never change its key."""
        if customer.wa_id:
            customer.wa_id = re.sub(r"\D", "", customer.wa_id)
        known = self.find(wa_id=customer.wa_id, user_id=customer.user_id)
        if known is not None:
            known.name = customer.name or known.name
            known.username = customer.username or known.username
            return known
        if customer.wa_id and not customer.user_id:
            customer.user_id = mint_user_id(customer.wa_id)
        self.customers[customer.key] = customer
        return customer

    def recipient_of(self, body: dict[str, Any]) -> SimCustomer:
        """The customer a send body addresses: ``to`` (phone, formatting ignored) wins over ``recipient``."""
        to = body.get("to")
        if isinstance(to, str):  # check_send made sure it has digits
            return self.register(SimCustomer(wa_id=to))
        return self.register(SimCustomer(user_id=body["recipient"]))

    # --- errors --------------------------------------------------------------------------------
    def take_error(self, customer: SimCustomer) -> InjectedError | None:
        for error in self.errors:
            if error.recipient is None or error.recipient in (customer.key, customer.wa_id, customer.user_id):
                error.count -= 1
                if error.count <= 0:
                    self.errors.remove(error)
                return error
        return None

    # --- outbound ------------------------------------------------------------------------------
    def accept(
        self, body: dict[str, Any], customer: SimCustomer, kind: str, fail: InjectedError | None
    ) -> Outbound:
        key = body.get("biz_opaque_callback_data")
        out = Outbound(self.next_seq(), new_wamid(), customer.key, kind, body, key, time.time())
        self.outbound[out.wamid] = out
        if key:
            self.sends_per_key[key] += 1
        self.typing_until.pop(customer.key, None)
        self.spawn(self._lifecycle(out, fail))
        self.notify()
        return out

    async def _lifecycle(self, out: Outbound, fail: InjectedError | None) -> None:
        sent_delay, delivered_delay = self.status_delays
        await asyncio.sleep(sent_delay)
        if fail is not None:
            await self.set_status([out], "failed", errors=[status_error(fail.code, fail.title, fail.details)])
            return
        await self.set_status([out], "sent")
        await asyncio.sleep(delivered_delay)
        await self.set_status([out], "delivered")
        if self.auto_read:
            await self.set_status([out], "read")

    async def set_status(
        self, outs: list[Outbound], status: str, errors: list[dict[str, Any]] | None = None
    ) -> None:
        """Advance statuses (never backwards: a late "delivered" after "read" is dropped) and notify."""
        moved = [o for o in outs if o.status != "failed" and RANK[status] > RANK[o.status]]
        if not moved:
            return
        for out in moved:
            out.status = status
            out.errors = errors or []
        customers = {o.customer: self.customers[o.customer] for o in moved}
        items = [status_item(o.wamid, status, customers[o.customer], callback_data=o.key, errors=errors)
                 for o in moved]
        self.notify()
        await self.deliver(build_statuses(items, list(customers.values()), **self._where()), kind="status")

    async def customer_read(self, customer_key: str) -> int:
        """The simulated customer opened the chat: everything sent/delivered to them becomes read."""
        outs = [o for o in self.outbound.values()
                if o.customer == customer_key and o.status in ("sent", "delivered")]
        await self.set_status(outs, "read")
        return len(outs)

    def business_read(self, wamid: str, typing: bool) -> None:
        """The business marked an inbound message read: it and the earlier ones of that chat."""
        target = next((m for m in self.inbound if m.wamid == wamid), None)
        if target is None:
            return
        for message in self.inbound:
            if message.customer == target.customer and message.seq <= target.seq:
                message.read = True
        if typing:
            self.typing_until[target.customer] = time.time() + TYPING_SECONDS
        self.notify()

    # --- inbound -------------------------------------------------------------------------------
    async def send_inbound(self, spec: InboundSpec) -> dict[str, Any]:
        customer = self.register(spec.customer())
        update: dict[str, Any] = {"wa_id": customer.wa_id, "user_id": customer.user_id, "name": customer.name,
                                  "username": customer.username}
        if spec.media_id in self.media:
            _, mime, digest = self.media[spec.media_id]
            update |= {"mime_type": spec.mime_type or mime, "sha256": digest}
        item = message_item(spec.model_copy(update=update), display_phone_number=self.display_phone_number)
        inbound = Inbound(self.next_seq(), item["id"], customer.key, item, time.time())
        self.inbound.append(inbound)
        self.notify()
        payload = envelope({"contacts": [customer.contact()], "messages": [item]}, **self._where())
        inbound.status_code, inbound.attempts = await self.deliver(payload, kind="inbound")
        self.notify()
        return {"wamid": inbound.wamid, "status_code": inbound.status_code, "attempts": inbound.attempts,
                "customer": customer.key}

    def add_media(self, data: bytes, mime_type: str) -> tuple[str, str]:
        media_id = new_media_id()
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
        self.media[media_id] = (data, mime_type, digest)
        return media_id, digest

    # --- webhooks ------------------------------------------------------------------------------
    def _where(self) -> dict[str, str]:
        return {"phone_number_id": self.phone_number_id, "display_phone_number": self.display_phone_number,
                "waba_id": self.waba_id}

    async def deliver(self, payload: dict[str, Any], *, kind: str) -> tuple[int | None, int]:
        """Send a webhook to the app under test (if any). Returns (last HTTP status, attempts)."""
        entry: dict[str, Any] = {"at": time.time(), "kind": kind, "payload": payload, "status_code": None,
                                 "attempts": 0, "error": None}
        self.webhooks.append(entry)
        if self.webhook_url:
            await post_signed(entry, encode(payload), url=self.webhook_url, app_secret=self.app_secret,
                              transport=self.webhook_transport, retry_delays=self.webhook_retry_delays,
                              client=self._shared_client())
            self.notify()
        return entry["status_code"], entry["attempts"]

    def _shared_client(self) -> httpx.AsyncClient | None:
        """One client for every webhook of a standalone fake: making one costs ~20 ms of CPU (TLS set-up),
        which at thousands of status webhooks starved the fake's event loop until sends timed out (found
        by the chaos suite). With a caller's transport a client is cheap and the transport is theirs."""
        if self.webhook_transport is not None:
            return None
        if self._webhook_client is None:
            self._webhook_client = httpx.AsyncClient(timeout=10.0)
        return self._webhook_client

    # --- background work -----------------------------------------------------------------------
    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait until every scheduled status webhook went out (tests call this instead of sleeping)."""
        deadline = time.monotonic() + timeout
        while self._tasks:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{len(self._tasks)} fake graph tasks still running")
            await asyncio.wait(set(self._tasks), timeout=left)

    # --- views ---------------------------------------------------------------------------------
    def conversations(self) -> list[dict[str, Any]]:
        now = time.time()
        chats: dict[str, list[dict[str, Any]]] = {key: [] for key in self.customers}
        for message in self.inbound:
            chats.setdefault(message.customer, []).append({
                "direction": "in", "seq": message.seq, "wamid": message.wamid, "at": message.at,
                "type": message.message.get("type"), "message": message.message, "read": message.read,
                "status_code": message.status_code})
        for out in self.outbound.values():
            chats.setdefault(out.customer, []).append({
                "direction": "out", "seq": out.seq, "wamid": out.wamid, "at": out.at, "type": out.type,
                "body": out.body, "status": out.status, "errors": out.errors, "key": out.key})
        return [{"customer": self.customers[key].as_dict(),
                 "messages": sorted(messages, key=lambda m: m["seq"]),
                 "typing": self.typing_until.get(key, 0) > now}
                for key, messages in chats.items() if key in self.customers]
