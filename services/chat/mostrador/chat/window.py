"""WhatsApp's 24 h customer-service window and what may be sent in it. Pure: ``now`` is passed in.

The window runs from the customer's last message *timestamp* (as WhatsApp reports it). WhatsApp
may tell us it closed earlier (error 131047, or the scheduler's deadline): we keep that as
``closed_for`` = the last-inbound time whose window was declared closed, so a newer customer
message re-opens it without anyone having to clear a flag.
"""

from __future__ import annotations

from datetime import datetime, timedelta

EN_PROCESO = "EN PROCESO"
OUTSIDE_WINDOW = 131047  # WhatsApp: more than 24 h since the customer last wrote
NO_REASON = {"code": -1, "title": "WhatsApp reported the message as failed without a reason"}

# The delivery states of our outbound messages, in the only order they may advance.
RANK = {"pending": 0, "sent": 1, "delivered": 2, "read": 3}


def is_open(now: datetime, last_inbound_at: datetime | None, hours: float,
            closed_for: datetime | None = None) -> bool:
    if last_inbound_at is None:
        return False
    if closed_for is not None and closed_for >= last_inbound_at:
        return False  # WhatsApp said so (131047) since the customer last wrote
    return now < last_inbound_at + timedelta(hours=hours)


def closes_at(last_inbound_at: datetime | None, hours: float, closed_for: datetime | None = None,
              closed_at: datetime | None = None) -> datetime | None:
    """When the window closes (or closed): the panel's countdown."""
    if last_inbound_at is None:
        return None
    end = last_inbound_at + timedelta(hours=hours)
    if closed_for is not None and closed_for >= last_inbound_at and closed_at is not None:
        return min(end, closed_at)
    return end


def free_text_refusal(ticket_status: str | None, window_open: bool) -> tuple[str, str] | None:
    """Why an operator may not write free text now (code, message), or None when they may."""
    if ticket_status != EN_PROCESO:
        shown = ticket_status or "sin ticket"
        return "not_in_process", f"the chat is only open while the ticket is EN PROCESO (it is {shown})"
    if not window_open:
        return "window_closed", ("the 24-hour window is closed: WhatsApp only allows the approved template; "
                                 "use «Retomar contacto»")
    return None


def next_status(current: str, incoming: str) -> str | None:
    """The status a delivery report moves a message to, or None when it changes nothing.

    Latest by rank wins (statuses arrive out of order and twice); ``failed`` wins over everything
    and is final until an operator retries; a late ``delivered`` never overwrites ``read``.
    """
    incoming = "read" if incoming == "played" else incoming  # a voice note listened to was read
    if current == "failed" or incoming not in (*RANK, "failed"):
        return None  # 'deleted' and unknown states are not delivery progress
    if incoming == "failed":
        return "failed"
    return incoming if RANK[incoming] > RANK.get(current, 0) else None


def fold_reports(status: str, status_at: datetime, reports: list[dict]) -> tuple[str, datetime, dict | None]:
    """Apply delivery reports that overtook the send result: (status, status_at, error)."""
    error = None
    for report in reports:
        moved = next_status(status, report["status"])
        if moved:
            at = report["at"]
            status, status_at = moved, datetime.fromisoformat(at) if isinstance(at, str) else at
            error = (report["errors"] or [NO_REASON])[0] if moved == "failed" else None
    return status, status_at, error


def closes_window(error: dict | None, last_inbound_at: datetime | None, attempted_at: datetime | None) -> bool:
    """A 131047 closes the window — unless the customer wrote after we tried (then the report is stale)."""
    if not error or error.get("code") != OUTSIDE_WINDOW:
        return False
    return last_inbound_at is None or attempted_at is None or last_inbound_at <= attempted_at
