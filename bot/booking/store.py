"""Booking requests in SQL: one row per confirmed request, committed before anyone is told.

Every value goes in as a bound parameter, so quotes, SQL and markup are stored as typed.
The same confirmation stored twice (a retried request, a double click) is recognised by
its idempotency key and gives back the first row's reference instead of a second row.
Nothing here logs what a person typed; log lines name the reference only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import List, Optional, Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.db import session_scope
from bot.booking import outbox
from bot.schema import (BOOKING_STATUS_NEW, KIND_BOOKING, BookingRequestRow, SchemaNotReady,
                        require)
from bot.settings import get_settings

logger = logging.getLogger(__name__)

# Reference codes: "HF-" and six characters that cannot be misread (no 0/O, 1/I/L).
REFERENCE_PREFIX = "HF-"
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
REFERENCE_LENGTH = 6
STATUS_NEW = BOOKING_STATUS_NEW
# What the person asked for: a consultation (KIND_BOOKING, beside the table in bot.schema)
# or only a call from the front desk.
KIND_CALLBACK = "callback"
MAX_REFERENCE_ATTEMPTS = 8


@dataclass(frozen=True)
class BookingRequest:
    """What the person confirmed, ready to store."""

    name: str
    contact: str
    contact_kind: str
    times_text: str
    times_normalised: Optional[str] = None
    reason: Optional[str] = None
    kind: str = KIND_BOOKING

    def fingerprint(self, conversation_id: str) -> str:
        """The idempotency key: the same sender confirming the same details."""
        fields = [conversation_id, self.name, self.contact, self.contact_kind, self.times_text,
                  self.reason or ""]
        if self.kind != KIND_BOOKING:
            fields.append(self.kind)
        payload = json.dumps(fields, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredBooking:
    """A row as staff see it."""

    reference: str
    created_at: datetime
    status: str
    name: str
    contact: str
    contact_kind: str
    times_text: str
    times_normalised: Optional[str]
    reason: Optional[str]
    kind: str = KIND_BOOKING


@dataclass(frozen=True)
class SaveResult:
    reference: str
    created: bool  # False when this confirmation had been stored already


class BookingStoreError(RuntimeError):
    """The booking database could not be used; nothing was stored."""


class UnknownBooking(LookupError):
    """No booking request has this reference."""


def _url(url: Optional[str]) -> str:
    return url or get_settings().database_url


TABLES = (BookingRequestRow.__tablename__, outbox.OutboxRow.__tablename__)


def require_schema(url: Optional[str] = None) -> None:
    """Check that the migrations made the booking and outbox tables (this store never does).

    Raises BookingStoreError, with the command to run, when they are missing."""
    try:
        require(_url(url), TABLES)
    except SchemaNotReady as error:
        logger.error("booking store: %s", error)
        raise BookingStoreError(str(error)) from None


def notification_channels(request: BookingRequest) -> List[str]:
    """The clinic is always told (email, and the webhook when one is set); the person gets a
    receipt when they gave an email address."""
    channels = [outbox.CLINIC_EMAIL, outbox.WEBHOOK]
    if request.contact_kind == "email":
        channels.append(outbox.RECEIPT_EMAIL)
    return channels


def new_reference() -> str:
    return REFERENCE_PREFIX + "".join(
        secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH)
    )


def hash_conversation(conversation_id: str) -> str:
    """Conversations are linked by a hash, so the row does not expose the channel's id."""
    return hashlib.sha256(f"booking:{conversation_id}".encode("utf-8")).hexdigest()


def _existing_reference(key: str, url: Optional[str]) -> Optional[str]:
    with session_scope(url) as session:
        return session.execute(
            select(BookingRequestRow.reference).where(BookingRequestRow.idempotency_key == key)
        ).scalar_one_or_none()


def save_booking(
    request: BookingRequest,
    conversation_id: str,
    url: Optional[str] = None,
    now: Optional[datetime] = None,
) -> SaveResult:
    """Store the request and commit, or return the reference it was stored under before.

    Raises BookingStoreError when the database cannot be used; the transaction is rolled
    back, so no partial row remains.
    """
    database_url = _url(url)
    key = request.fingerprint(conversation_id)
    stamp = now or datetime.now(timezone.utc)
    try:
        require_schema(database_url)
        for _attempt in range(MAX_REFERENCE_ATTEMPTS):
            reference = new_reference()
            try:
                with session_scope(database_url) as session:
                    session.add(
                        BookingRequestRow(
                            reference=reference,
                            created_at=stamp,
                            status=STATUS_NEW,
                            name=request.name,
                            contact=request.contact,
                            contact_kind=request.contact_kind,
                            times_text=request.times_text,
                            times_normalised=request.times_normalised,
                            reason=request.reason or None,
                            consent_at=stamp,
                            conversation_hash=hash_conversation(conversation_id),
                            idempotency_key=key,
                            kind=request.kind,
                        )
                    )
                    # Same transaction: the request is never stored without its notifications.
                    session.flush()
                    outbox.enqueue(session, reference, notification_channels(request), stamp)
            except IntegrityError:
                existing = _existing_reference(key, database_url)
                if existing:
                    logger.info("booking %s confirmed again; kept the stored request", existing)
                    return SaveResult(existing, created=False)
                continue  # the reference was taken: draw another
            logger.info("%s %s stored", request.kind, reference)
            return SaveResult(reference, created=True)
    except SQLAlchemyError as error:
        # The error text can hold the bound values (the person's details): log its type only.
        logger.error("booking could not be stored: %s", type(error).__name__)
        raise BookingStoreError("the booking database is unavailable") from None
    raise BookingStoreError("no free reference code after several attempts")


def _stored(row: BookingRequestRow) -> StoredBooking:
    return StoredBooking(
        reference=row.reference,
        created_at=row.created_at,
        status=row.status,
        name=row.name,
        contact=row.contact,
        contact_kind=row.contact_kind,
        times_text=row.times_text,
        times_normalised=row.times_normalised,
        reason=row.reason,
        kind=row.kind or KIND_BOOKING,
    )


def get_booking(reference: str, url: Optional[str] = None) -> Optional[StoredBooking]:
    """One request by its reference, or None."""
    database_url = _url(url)
    try:
        require_schema(database_url)
        with session_scope(database_url) as session:
            row = session.execute(
                select(BookingRequestRow).where(BookingRequestRow.reference == reference)
            ).scalar_one_or_none()
            return _stored(row) if row is not None else None
    except SQLAlchemyError as error:
        raise BookingStoreError(
            f"cannot read booking requests ({type(error).__name__}); check DATABASE_URL"
        ) from None


def count_with_status(statuses: Sequence[str], url: Optional[str] = None) -> int:
    """How many requests have one of ``statuses`` (the staff pages' open count)."""
    database_url = _url(url)
    try:
        require_schema(database_url)
        with session_scope(database_url) as session:
            return int(session.execute(
                select(func.count()).select_from(BookingRequestRow)
                .where(BookingRequestRow.status.in_(list(statuses)))
            ).scalar_one())
    except SQLAlchemyError as error:
        raise BookingStoreError(
            f"cannot read booking requests ({type(error).__name__}); check DATABASE_URL"
        ) from None


def list_bookings(
    url: Optional[str] = None, limit: Optional[int] = None, status: Optional[str] = None
) -> List[StoredBooking]:
    """Booking requests, newest first."""
    database_url = _url(url)
    try:
        require_schema(database_url)
        query = select(BookingRequestRow).order_by(
            BookingRequestRow.created_at.desc(), BookingRequestRow.id.desc()
        )
        if status:
            query = query.where(BookingRequestRow.status == status)
        if limit:
            query = query.limit(limit)
        with session_scope(database_url) as session:
            return [_stored(row) for row in session.execute(query).scalars()]
    except SQLAlchemyError as error:
        raise BookingStoreError(
            f"cannot read booking requests ({type(error).__name__}); check DATABASE_URL"
        ) from None


def set_status(reference: str, status: str, url: Optional[str] = None) -> str:
    """Give one request a new status (the front desk's follow-up); return the one it had."""
    database_url = _url(url)
    try:
        require_schema(database_url)
        with session_scope(database_url) as session:
            row = session.execute(
                select(BookingRequestRow).where(BookingRequestRow.reference == reference)
            ).scalar_one_or_none()
            if row is None:
                raise UnknownBooking(reference)
            previous = str(row.status)
            row.status = status
            session.commit()
    except SQLAlchemyError as error:
        raise BookingStoreError(
            f"cannot update booking requests ({type(error).__name__}); check DATABASE_URL"
        ) from None
    logger.info("booking request %s: status %s -> %s", reference, previous, status)
    return previous
