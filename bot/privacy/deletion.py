"""The one delete block of erasure and retention: bookings, votes, conversations, audit row.

``erase`` (a person's data, bot/privacy/erase.py) and the retention job (what is older than
N days, bot/privacy/retention.py) differ only in what they select. Both delete, in this
order and in one clinic transaction: the booking requests, the widget votes, then every
event of the selected conversations (committed in the tracker database first, or in the
same transaction when it is the clinic's SQLite file), and the transaction commits with its
audit row. So a failure can be retried (see erase.py's docstring).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from sqlalchemy import column, delete, select, table
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Select

from bot.booking.store import BookingRequestRow
from bot.db import get_engine
from bot.privacy import audit
from bot.privacy.stores import EVENTS, FEEDBACK_TABLE, has_table, tracker_connection

FEEDBACK = table(FEEDBACK_TABLE, column("sender_id"), column("created_at"))


@dataclass(frozen=True)
class Deleted:
    """How much was deleted (counts and booking references, never contents)."""

    conversations: int
    events: int
    bookings: int
    feedback: int
    references: Tuple[str, ...] = ()


def delete_and_audit(
    clinic_url: str,
    events_url: str,
    action: str,
    via: str,
    bookings: Optional[ColumnElement] = None,
    feedback: Optional[ColumnElement] = None,
    senders: Optional[Select] = None,
    subject: Optional[str] = None,
) -> Deleted:
    """Delete what the conditions select, with an audit row of ``action``; commit.

    ``bookings`` and ``feedback`` are WHERE conditions on the booking requests
    (``BookingRequestRow``) and on the widget votes (``FEEDBACK``); ``senders`` selects the
    ``sender_id`` of the conversations whose events go. None deletes nothing of that kind.
    Raises SQLAlchemyError (nothing is committed in the clinic database then).
    """
    with Session(get_engine(clinic_url), future=True) as clinic:
        references: Tuple[str, ...] = ()
        if bookings is not None:
            references = tuple(clinic.execute(
                select(BookingRequestRow.reference).where(bookings)).scalars())
            if references:
                clinic.execute(delete(BookingRequestRow).where(bookings))
        votes = 0
        if feedback is not None and has_table(clinic.connection(), FEEDBACK_TABLE):
            votes = int(clinic.execute(delete(FEEDBACK).where(feedback)).rowcount or 0)
        conversations = events = 0
        if senders is not None:
            with tracker_connection(clinic, clinic_url, events_url) as connection:
                if has_table(connection, EVENTS.name):
                    conversations = len(list(connection.execute(senders).scalars()))
                    if conversations:
                        events = int(connection.execute(
                            delete(EVENTS).where(EVENTS.c.sender_id.in_(senders))
                        ).rowcount or 0)
        audit.record(clinic, action, via, subject=subject, conversations=conversations,
                     events=events, bookings=len(references), feedback=votes)
        clinic.commit()
    return Deleted(conversations, events, len(references), votes, references)
