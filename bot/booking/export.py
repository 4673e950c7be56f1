"""Booking requests laid out for the front desk: the ``bookings list`` table and the CSV export.

Pure: rows in, text out. A cell that a spreadsheet would run as a formula is defused here
(``spreadsheet_safe``); the database keeps what was typed. The command line that shows and
writes them is ``bot/staff/booking_commands.py``.
"""

from __future__ import annotations

import csv
import re
from datetime import datetime, timezone
from typing import Iterable, Optional, TextIO

from bot.booking.store import StoredBooking
from bot.booking.validation import display_contact

CSV_COLUMNS = (
    "reference", "created_at", "status", "name", "contact", "contact_kind",
    "times", "times_normalised", "reason", "kind",
)
LIST_COLUMNS = (("reference", 9), ("created (UTC)", 16), ("status", 9), ("name", 24),
                ("contact", 28), ("times", 0))
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
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
