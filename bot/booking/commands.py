"""``python -m bot bookings``: the front desk's list, CSV export and status of booking requests.

The requests hold names and phone numbers, so every command asks for a staff login like the
other staff commands (``--user NAME`` or ``STAFF_USER``; the password is asked for, or read
from ``STAFF_PASSWORD`` for scripts), and exports and status changes are audited.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, List, Optional, TextIO, Tuple

from bot.booking.store import (
    STATUS_NEW,
    BookingStoreError,
    StoredBooking,
    UnknownBooking,
    list_bookings,
    set_status,
)
from bot.booking.validation import display_contact
from bot.cli import positive_int
from bot.privacy.retention import closed_statuses, retention_days

CSV_COLUMNS = (
    "reference", "created_at", "status", "name", "contact", "contact_kind",
    "times", "times_normalised", "reason", "kind",
)
LIST_COLUMNS = (("reference", 9), ("created (UTC)", 16), ("status", 9), ("name", 24),
                ("contact", 28), ("times", 0))
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A request is "new" until the front desk has dealt with it; "contacted" while it is under way.
OPEN_STATUSES = (STATUS_NEW, "contacted")
_PLAIN_NUMBER = re.compile(r"^[+-]?[\d\s().-]+(?: ext\. \d+)?$")


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def _created(moment: datetime) -> str:
    return _utc(moment).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M")


def spreadsheet_safe(value: Optional[str]) -> str:
    """Keep a cell from running as a formula when the CSV is opened in a spreadsheet.

    The database keeps the text as typed; only the export prefixes a ``'`` to a cell
    that starts like a formula (phone numbers such as +14035550142 are left alone).
    """
    text = value or ""
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def _cell(text: str, width: int) -> str:
    flat = " ".join(text.split())
    if width and len(flat) > width:
        flat = flat[: width - 1] + "\u2026"
    return flat.ljust(width) if width else flat


def format_table(rows: Iterable[StoredBooking]) -> str:
    lines = ["  ".join(_cell(title, width) for title, width in LIST_COLUMNS).rstrip()]
    for row in rows:
        values = (row.reference, _created(row.created_at), row.status, row.name,
                  display_contact(row.contact, row.contact_kind), row.times_text)
        lines.append(
            "  ".join(_cell(value, width) for value, (_, width) in zip(values, LIST_COLUMNS))
        )
    return "\n".join(lines)


def write_csv(rows: Iterable[StoredBooking], handle: TextIO) -> int:
    writer = csv.writer(handle)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in rows:
        writer.writerow(
            [
                row.reference,
                _utc(row.created_at).isoformat(timespec="seconds"),
                row.status,
                spreadsheet_safe(row.name),
                spreadsheet_safe(display_contact(row.contact, row.contact_kind)),
                row.contact_kind,
                spreadsheet_safe(row.times_text),
                spreadsheet_safe(row.times_normalised),
                spreadsheet_safe(row.reason),
                row.kind,
            ]
        )
        count += 1
    return count


def _staff(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The logged-in staff user and the project (asks for the password)."""
    from bot.staff import users
    from bot.staff.bookings import PERMISSION
    from bot.staff.commands import _login
    from bot.staff.project import Project

    from sqlalchemy.exc import SQLAlchemyError

    project = Project.from_env()
    try:
        return users.require(_login(args, project), PERMISSION), project
    except SQLAlchemyError as error:
        raise RuntimeError(f"cannot read booking requests ({type(error).__name__}); "
                           "check DATABASE_URL") from None


def _audit(args: argparse.Namespace, action: str, target: str, **details: object) -> None:
    from bot.staff.bookings import _audit as audit

    audit(args.project, args.staff_user, action, target, **details)


def _fetch(args: argparse.Namespace) -> List[StoredBooking]:
    try:
        return list_bookings(args.project.database_url, limit=args.limit, status=args.status)
    except BookingStoreError as error:
        raise RuntimeError(str(error)) from None


def _list(args: argparse.Namespace) -> int:
    args.staff_user, args.project = _staff(args)
    rows = _fetch(args)
    _audit(args, "list_bookings", args.status or "all", rows=len(rows))
    if not rows:
        print("No booking requests yet." if not args.status else
              f"No booking requests with status {args.status!r}.")
        return 0
    print(format_table(rows))
    print(f"\n{len(rows)} request(s), newest first.")
    return 0


def _export(args: argparse.Namespace) -> int:
    target = args.csv
    if target != "-" and Path(target).is_dir():
        raise ValueError(f"{target} is a folder; give a file name such as {Path(target) / 'bookings.csv'}")
    if target != "-" and not Path(target).parent.is_dir():
        raise ValueError(f"folder {Path(target).parent} does not exist; create it or choose another path")
    args.staff_user, args.project = _staff(args)
    if target == "-":
        count = write_csv(_fetch(args), sys.stdout)
        _audit(args, "export_bookings", args.status or "all", rows=count)
        print(f"{count} request(s) exported.", file=sys.stderr)
        return 0
    path = Path(target)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give a file name such as {path / 'bookings.csv'}")
    if not path.parent.is_dir():
        raise ValueError(f"folder {path.parent} does not exist; create it or choose another path")
    rows = _fetch(args)
    # Write next to the target and rename, so a failed export never leaves half a file;
    # the file holds personal details, so only its owner may read it.
    fd, temporary = tempfile.mkstemp(prefix=".bookings-", suffix=".csv", dir=path.parent)
    try:
        with io.open(fd, "w", encoding="utf-8", newline="") as handle:
            count = write_csv(rows, handle)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _audit(args, "export_bookings", args.status or "all", rows=count)
    print(f"Exported {count} request(s), newest first, to {path}.")
    return 0


def _status(args: argparse.Namespace) -> int:
    reference = args.reference.strip().upper()
    status = args.status.strip().lower()
    allowed = booking_statuses()
    if status not in allowed:
        raise ValueError(f"unknown status {args.status!r}; use one of: {', '.join(allowed)}")
    args.staff_user, args.project = _staff(args)
    try:
        previous = set_status(reference, status, args.project.database_url)
    except UnknownBooking:
        raise ValueError(f"no booking request has the reference {reference!r}; "
                         "'python -m bot bookings list' shows them") from None
    except BookingStoreError as error:
        raise RuntimeError(str(error)) from None
    _audit(args, "booking_status", reference, previous=previous, status=status)
    print(f"{reference}: {previous} -> {status}.")
    if status in closed_statuses():
        print(f"Closed: the retention job deletes it {retention_days()} days after it was made.")
    return 0


def booking_statuses() -> Tuple[str, ...]:
    """Open statuses, then the closed ones the retention job deletes (config/clinic.yml)."""
    return OPEN_STATUSES + tuple(s for s in closed_statuses() if s not in OPEN_STATUSES)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bookings", help="booking requests for the front desk")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="show booking requests, newest first")
    export = commands.add_parser("export", help="write booking requests to a CSV file")
    export.add_argument("--csv", required=True, metavar="FILE",
                        help="file to write (use - for standard output)")
    for sub in (listing, export):
        sub.add_argument("--limit", type=positive_int, help="only the newest N requests")
        sub.add_argument("--status", help="only requests with this status (e.g. new)")
    listing.set_defaults(handler=_list)
    export.set_defaults(handler=_export)
    status = commands.add_parser(
        "status", help="record what became of a request (e.g. booked, declined)",
        description="Closed statuses (config/clinic.yml privacy.closed_booking_statuses) let "
                    "the retention job delete the request once it is old enough.")
    status.add_argument("reference", help="the request's reference, e.g. HF-7K3M9Q")
    status.add_argument("status", help="new, contacted, or a closed status such as booked")
    status.set_defaults(handler=_status)
    for sub in (listing, export, status):
        sub.add_argument("--user", help="your staff user name (default: $STAFF_USER)")
