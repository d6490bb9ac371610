"""Projection rows and event states -> the API's output shapes (models.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from mostrador.panel_api.models import (
    ActorOut,
    DetailsOut,
    ErrorInfo,
    HistoryOut,
    LocationOut,
    MediaOut,
    MessageOut,
    OptionOut,
    TicketDetail,
    TicketPage,
    TicketSummary,
    WindowOut,
)


@lru_cache(maxsize=4096)
def _minute(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, UTC).isoformat()[:17]  # 'YYYY-MM-DDTHH:MM:'


_SECONDS = [f"{s:02d}" for s in range(60)]
_FRACTIONS = [""] + [f".{ms:03d}000" for ms in range(1, 1000)]  # isoformat() omits a zero fraction


def iso(ms_value: int | None) -> str | None:
    """Epoch ms as datetime.isoformat() in UTC ('2026-09-15T08:30:00.250000+00:00'), from a cache of
    minutes: a board page formats 100 of them, and the datetime way was 10 % of its CPU (bench B4)."""
    if ms_value is None:
        return None
    minute, rest = divmod(ms_value, 60_000)
    return _minute(minute) + _SECONDS[rest // 1000] + _FRACTIONS[rest % 1000] + "+00:00"


def now_ms(clock) -> int:
    return int(clock.now().timestamp() * 1000)


def map_url(lat: float, lon: float) -> str:
    return f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=17/{lat:.6f}/{lon:.6f}"


def location(loc: dict[str, Any] | None) -> LocationOut | None:
    if not loc:
        return None
    return LocationOut(latitude=loc["latitude"], longitude=loc["longitude"], name=loc.get("name"),
                       address=loc.get("address"), map_url=map_url(loc["latitude"], loc["longitude"]))


def summary_fields(row: dict[str, Any]) -> dict[str, Any]:
    """A board row as TicketSummary's fields (validated by whoever builds the model)."""
    missing = row["missing"]
    return {"number": row["number"], "ticket_id": row["ticket_id"], "opened_at": iso(row["opened_ms"]),
            "last_message_at": iso(row["last_message_ms"]), "name": row["name"], "phone": row["phone"],
            "customer_key": row["customer_key"], "type": row["type"], "status": row["status"],
            "branch": row["branch"], "topic": row["topic"], "unread": row["unread"],
            "missing": [] if missing == "[]" else json.loads(missing)}


def summary(row: dict[str, Any]) -> TicketSummary:
    return TicketSummary(**summary_fields(row))


def ticket_page(page: dict[str, Any]) -> TicketPage:
    """A board page (board.page) as one validation of plain dicts: 50 TicketSummary(...) calls cost
    twice as much (bench B4)."""
    return TicketPage.model_validate({"items": [summary_fields(r) for r in page["rows"]],
                                      "next_cursor": page["next_cursor"], "total": page["total"],
                                      "total_capped": page["total_capped"]})


def window(row: dict[str, Any], now: int) -> WindowOut:
    """WhatsApp's 24 h window, from the conversation projection: open iff now < closes_at."""
    closes = row.get("window_closes_ms")
    return WindowOut(open=closes is not None and now < closes, closes_at=iso(closes))


def detail(row: dict[str, Any], now: int) -> TicketDetail:
    state = json.loads(row["state"])
    details = dict(state.get("details") or {})
    details["location"] = location(details.get("location"))
    history = [HistoryOut(from_status=h.get("from_status"), to_status=h["to_status"], at=h["at"],
                          by=ActorOut(**h["by"]), reason=h.get("reason")) for h in state.get("history", [])]
    return TicketDetail(**summary_fields(row), details=DetailsOut(**details), history=history,
                        window=window(row, now), server_time=iso(now) or "",
                        message_count=state.get("message_count", 0))


def _media(media: dict[str, Any] | None) -> MediaOut | None:
    if not media:
        return None
    return MediaOut(id=media["id"], mime_type=media.get("mime_type"), caption=media.get("caption"),
                    filename=media.get("filename"), url=f"/api/media/{media['id']}")


def message(state: dict[str, Any]) -> MessageOut:
    """One bubble: what the customer sent (inbound) or what we asked WhatsApp to deliver (content)."""
    out: dict[str, Any] = {"message_id": state["message_id"], "version": state.get("version", 0),
                           "number": state.get("number"), "direction": state["direction"],
                           "author": ActorOut(**state["author"]),
                           "at": state["at"], "status": state["status"], "status_at": state.get("status_at"),
                           "attempts": state.get("attempts", 0),
                           "error": ErrorInfo(**state["error"]) if state.get("error") else None}
    inbound, content = state.get("inbound"), state.get("content")
    if inbound:
        out["type"] = inbound["type"]
        out["text"] = inbound.get("text")
        out["media"] = _media(inbound.get("media"))
        out["location"] = location(inbound.get("location"))
        chosen = inbound.get("interactive")
        if chosen:
            out["reply_to_option"] = OptionOut(id=chosen.get("id"), title=chosen.get("title") or chosen.get("id"),
                                               description=chosen.get("description"))
        if inbound["type"] == "reaction" and inbound.get("reaction"):
            out["text"] = inbound["reaction"].get("emoji")
        if out["text"] is None and out["media"] is None and out["location"] is None and not chosen:
            out["text"] = f"[{inbound.get('original_type') or inbound['type']}]"
    elif content:
        kind = content["kind"]
        out.update(type=kind, text=content.get("text"), header=content.get("header"), footer=content.get("footer"),
                   url=content.get("url"), list_button=content.get("list_button"))
        out["options"] = [OptionOut(id=b["id"], title=b["title"]) for b in content.get("buttons", [])]
        for section in content.get("sections", []):
            out["options"] += [OptionOut(id=r["id"], title=r["title"], description=r.get("description"))
                               for r in section.get("rows", [])]
        if content.get("template"):
            out["template"] = content["template"]["name"]
        if content.get("media_link"):
            out["media"] = MediaOut(id="link", url=content["media_link"])
    else:
        out["type"] = "unknown"
    return MessageOut(**out)
