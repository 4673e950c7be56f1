"""Erasing a person's data: their conversation, the booking requests sent from it, their votes.

The same function serves a request made in the chat (``actions/privacy.py``) and one made
by phone or email (``python -m bot privacy erase``). Booking rows are found by the hash of
the conversation id they keep (``bot.booking.store.hash_conversation``); a booking
reference leads back to its conversation the same way.

Order, so that a failure can simply be retried: the clinic database's rows are deleted in
an open transaction, then the conversation's events are deleted and committed, then the
clinic transaction, with its audit row, commits. If the tracker database fails, nothing is
erased; if the last commit fails, the conversation is gone and a retry erases the rest.
"""

from __future__ import annotations

import logging
from typing import Iterable, List, Optional, Set

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.booking.store import BookingRequestRow, hash_conversation
from bot.db import get_engine
from bot.privacy import audit
from bot.privacy.deletion import FEEDBACK, Deleted, delete_and_audit
from bot.privacy.stores import EVENTS, has_table, tracker_url
from bot.settings import get_settings

logger = logging.getLogger(__name__)

CHAT = "chat"
CLI = "cli"

class ErasureError(RuntimeError):
    """A database could not be used; a retry is safe (see the module docstring)."""


# What was erased (counts and booking references, never contents).
Erasure = Deleted


def erase(
    sender_ids: Iterable[str] = (),
    via: str = CLI,
    booking_hashes: Iterable[str] = (),
    database_url: Optional[str] = None,
    tracker_database_url: Optional[str] = None,
    subject: Optional[str] = None,
) -> Erasure:
    """Erase these conversations, every booking request and vote linked to them; audit it.

    ``booking_hashes`` adds booking requests whose conversation is already gone.
    Raises ErasureError when a database cannot be used.
    """
    senders = sorted(set(sender_ids))
    hashes: Set[str] = {hash_conversation(sender) for sender in senders} | set(booking_hashes)
    clinic_url = database_url or get_settings().database_url
    events_url = tracker_database_url or tracker_url()
    try:
        audit.require_schema(clinic_url, ErasureError)
        deleted = delete_and_audit(
            clinic_url, events_url, audit.ERASE, via,
            bookings=BookingRequestRow.conversation_hash.in_(hashes) if hashes else None,
            feedback=FEEDBACK.c.sender_id.in_(senders) if senders else None,
            senders=select(EVENTS.c.sender_id).where(
                EVENTS.c.sender_id.in_(senders)).distinct() if senders else None,
            subject=subject if subject is not None else (senders[0] if senders else None),
        )
    except SQLAlchemyError as error:
        # The error text can hold bound values (ids, details): log its type only.
        logger.error("erasure failed: %s", type(error).__name__)
        raise ErasureError(
            f"a database could not be used ({type(error).__name__}); nothing more was "
            "erased, and running the same erasure again is safe"
        ) from None
    return deleted


def erase_sender(
    sender_id: str,
    via: str = CLI,
    database_url: Optional[str] = None,
    tracker_database_url: Optional[str] = None,
) -> Erasure:
    """Erase one conversation (a chat's sender id) and what is linked to it."""
    return erase([sender_id], via=via, database_url=database_url,
                 tracker_database_url=tracker_database_url)


def senders_for_booking_hash(conversation_hash: str, url: Optional[str] = None) -> List[str]:
    """The conversation ids (tracker ``sender_id``) whose booking hash is this one."""
    engine = get_engine(url or tracker_url())
    with engine.connect() as connection:
        if not has_table(connection, EVENTS.name):
            return []
        senders = connection.execute(select(EVENTS.c.sender_id).distinct()).scalars()
        return [s for s in senders if hash_conversation(s) == conversation_hash]


def erase_booking(
    reference: str,
    via: str = CLI,
    database_url: Optional[str] = None,
    tracker_database_url: Optional[str] = None,
) -> Optional[Erasure]:
    """Erase a booking request by its reference, and the conversation that sent it.

    Other requests sent from the same conversation go too (they are the same person's).
    Returns None when no request has that reference.
    """
    clinic_url = database_url or get_settings().database_url
    try:
        audit.require_schema(clinic_url, ErasureError)
        with Session(get_engine(clinic_url), future=True) as session:
            conversation_hash = session.execute(
                select(BookingRequestRow.conversation_hash).where(
                    BookingRequestRow.reference == reference.strip().upper()
                )
            ).scalar_one_or_none()
        if conversation_hash is None:
            return None
        senders = senders_for_booking_hash(conversation_hash, tracker_database_url)
    except SQLAlchemyError as error:
        logger.error("erasure lookup failed: %s", type(error).__name__)
        raise ErasureError(
            f"a database could not be used ({type(error).__name__}); nothing was erased"
        ) from None
    return erase(
        senders, via=via, booking_hashes=[conversation_hash], database_url=clinic_url,
        tracker_database_url=tracker_database_url,
        subject=senders[0] if senders else f"booking:{conversation_hash}",
    )
