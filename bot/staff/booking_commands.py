"""``python -m bot bookings``: the front desk's list, CSV export and status of booking requests.

The requests hold names and phone numbers, so every command asks for a staff login like the
other staff commands (``--user NAME`` or ``STAFF_USER``; the password is asked for, or read
from ``STAFF_PASSWORD`` for scripts), and exports and status changes are audited. A face: it
composes the booking store, the staff login and audit, and the privacy retention rule.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from pathlib import Path
from typing import List

from sqlalchemy.exc import SQLAlchemyError

from bot.booking.export import format_table, write_csv
from bot.booking.statuses import booking_statuses, closed_statuses
from bot.booking.store import BookingStoreError, StoredBooking, UnknownBooking, list_bookings, set_status
from bot.cli import positive_int
from bot.privacy.retention import retention_days
from bot.staff import users
from bot.staff.bookings import PERMISSION
from bot.staff.bookings import _audit as audit
from bot.staff.commands import _login
from bot.staff.project import Project


def _staff(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The logged-in staff user and the project (asks for the password)."""
    project = Project.from_env()
    try:
        return users.require(_login(args, project), PERMISSION), project
    except SQLAlchemyError as error:
        raise RuntimeError(f"cannot read booking requests ({type(error).__name__}); "
                           "check DATABASE_URL") from None


def _audit(args: argparse.Namespace, action: str, target: str, **details: object) -> None:
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
