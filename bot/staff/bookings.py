"""The front desk's booking and call-back requests, for the staff page and the CLI.

Every function takes the logged-in user: reading needs ``bookings``; each opening of one
request, each status change and each export is written to the audit log (who, when, which
reference; never the request's content).
"""

from __future__ import annotations

import io
from typing import List, Optional, Tuple

from bot.booking import store
from bot.booking.export import write_csv
from bot.booking.statuses import OPEN_STATUSES, booking_statuses
from bot.db import session_scope
from bot.staff import users
from bot.staff.project import Project
from bot.staff.store import audit
from bot.staff.store import require_schema as require_staff_schema

PERMISSION = "bookings"


def _audit(project: Project, user: users.User, action: str, target: str, **details: object) -> None:
    require_staff_schema(project.database_url)
    with session_scope(project.database_url) as session:
        audit(session, user.username, action, target, **details)


def statuses() -> Tuple[str, ...]:
    return booking_statuses()


def check_status(status: Optional[str]) -> Optional[str]:
    """A known status (case and spaces ignored), None for "all"; ValueError otherwise."""
    if status is None or not status.strip() or status.strip().lower() == "all":
        return None
    value = status.strip().lower()
    if value not in statuses():
        raise ValueError(f"Unknown status {status.strip()[:40]!r}; use one of: {', '.join(statuses())}.")
    return value


def normalise_reference(reference: str) -> str:
    return " ".join(str(reference).split()).upper()[:32]


def list_requests(project: Project, user: users.User, status: Optional[str] = None,
                  limit: Optional[int] = 200) -> List[store.StoredBooking]:
    users.require(user, PERMISSION)
    try:
        return store.list_bookings(project.database_url, limit=limit, status=check_status(status))
    except store.BookingStoreError as error:
        raise RuntimeError(str(error)) from None


def open_request(project: Project, user: users.User, reference: str) -> store.StoredBooking:
    """One request; the viewing is audited (it shows a name, a contact and maybe a reason)."""
    users.require(user, PERMISSION)
    ref = normalise_reference(reference)
    try:
        found = store.get_booking(ref, project.database_url)
    except store.BookingStoreError as error:
        raise RuntimeError(str(error)) from None
    if found is None:
        raise ValueError(f"No request has the reference {ref!r}.")
    _audit(project, user, "view_booking", ref)
    return found


def change_status(project: Project, user: users.User, reference: str, status: str) -> str:
    """Record what became of a request; return the status it had. Unknown ones change nothing."""
    users.require(user, PERMISSION)
    ref = normalise_reference(reference)
    value = check_status(status)
    if value is None:
        raise ValueError(f"Say which status; use one of: {', '.join(statuses())}.")
    try:
        previous = store.set_status(ref, value, project.database_url)
    except store.UnknownBooking:
        raise ValueError(f"No request has the reference {ref!r}; nothing was changed.") from None
    except store.BookingStoreError as error:
        raise RuntimeError(str(error)) from None
    _audit(project, user, "booking_status", ref, previous=previous, status=value)
    return previous


def export_csv(project: Project, user: users.User, status: Optional[str] = None) -> Tuple[str, int]:
    """The requests as CSV text (cells that a spreadsheet would run are neutralised)."""
    rows = list_requests(project, user, status, limit=None)
    handle = io.StringIO()
    count = write_csv(rows, handle)
    _audit(project, user, "export_bookings", status or "all", rows=count)
    return handle.getvalue(), count


def notification_counts(project: Project) -> dict:
    """Outbox rows per status ({} when the database cannot say)."""
    from bot.booking import outbox

    try:
        store.require_schema(project.database_url)
        return outbox.counts(project.database_url)
    except Exception:  # noqa: BLE001 - the page still shows the requests
        return {}


def notifications_of(project: Project, reference: str) -> List[Tuple[str, str, int]]:
    """(channel, status, attempts) of one request's notifications."""
    from bot.booking import outbox

    return [(str(r.channel), str(r.status), int(r.attempts))
            for r in outbox.rows_for(normalise_reference(reference), project.database_url)]


def open_count(project: Project) -> Optional[int]:
    """How many requests still need the front desk (None when the database cannot say)."""
    try:
        return store.count_with_status(OPEN_STATUSES, project.database_url)
    except store.BookingStoreError:
        return None
