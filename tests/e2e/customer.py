"""A scripted WhatsApp customer for e2e tests: talks through the fake Graph API's /_fake/inbound (the
same signed webhook path Meta uses) and reads what the business sent from /_fake/conversations."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.e2e.harness import wait_for


class Customer:
    def __init__(self, fake_url: str, phone: str, name: str) -> None:
        self.fake_url, self.phone, self.name = fake_url.rstrip("/"), phone, name
        self.seen = 0  # business messages already read by the test

    # -- what the customer sends ---------------------------------------------------------------

    def _send(self, **spec: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.fake_url}/_fake/inbound", timeout=15,
                              json={"wa_id": self.phone, "name": self.name, **spec})
        response.raise_for_status()
        result = response.json()
        assert result["status_code"] == 200, result
        return result

    def say(self, text: str, **extra: Any) -> dict[str, Any]:
        return self._send(type="text", text=text, **extra)

    def tap(self, title: str) -> dict[str, Any]:
        """Tap the reply button or list row with this title in the business's latest interactive message."""
        message = self.last_interactive()
        interactive = message["body"]["interactive"]
        if interactive["type"] == "button":
            for button in interactive["action"]["buttons"]:
                if button["reply"]["title"] == title:
                    return self._send(type="button_reply", reply_id=button["reply"]["id"], reply_title=title,
                                      context_id=message["wamid"])
        else:
            for section in interactive["action"]["sections"]:
                for row in section["rows"]:
                    if row["title"] == title:
                        return self._send(type="list_reply", reply_id=row["id"], reply_title=title,
                                          context_id=message["wamid"])
        raise AssertionError(f"no option {title!r} in {interactive}")

    def share_location(self, latitude: float, longitude: float) -> dict[str, Any]:
        return self._send(type="location", latitude=latitude, longitude=longitude)

    def send(self, **spec: Any) -> dict[str, Any]:
        return self._send(**spec)

    # -- what the business sent ----------------------------------------------------------------

    def outbound(self) -> list[dict[str, Any]]:
        chats = httpx.get(f"{self.fake_url}/_fake/conversations", timeout=10).json()["conversations"]
        for chat in chats:
            if chat["customer"]["wa_id"] == self.phone:
                return [m for m in chat["messages"] if m["direction"] == "out"]
        return []

    def replies(self, count: int = 1, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Wait for ``count`` new business messages and return them (texts flattened for asserts)."""
        messages = wait_for(self.outbound, lambda out: len(out) >= self.seen + count, timeout=timeout)
        new = messages[self.seen:self.seen + count]
        self.seen += count
        return new

    def reply_text(self, timeout: float = 20.0) -> str:
        return text_of(self.replies(1, timeout)[0])

    def last_interactive(self) -> dict[str, Any]:
        for message in reversed(self.outbound()):
            if message["body"].get("type") == "interactive":
                return message
        raise AssertionError("the business sent no interactive message")

    def quiet(self, seconds: float = 1.5) -> bool:
        """True if the business sends nothing new for a while."""
        time.sleep(seconds)
        return len(self.outbound()) == self.seen


def text_of(message: dict[str, Any]) -> str:
    body = message["body"]
    if body.get("type") == "text":
        return body["text"]["body"]
    if body.get("type") == "interactive":
        return body["interactive"].get("body", {}).get("text", "")
    if body.get("type") == "template":
        return f"[template {body['template']['name']}]"
    return str(body)


def options_of(message: dict[str, Any]) -> list[str]:
    interactive = message["body"].get("interactive", {})
    if interactive.get("type") == "button":
        return [b["reply"]["title"] for b in interactive["action"]["buttons"]]
    if interactive.get("type") == "list":
        return [r["title"] for s in interactive["action"]["sections"] for r in s["rows"]]
    return []
