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
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import List, Optional, Set

from sqlalchemy import Column, DateTime, Integer, String, Text, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.db import Base, get_engine, session_scope
from bot.settings import get_settings

logger = logging.getLogger(__name__)

# Reference codes: "HF-" and six characters that cannot be misread (no 0/O, 1/I/L).
REFERENCE_PREFIX = "HF-"
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
REFERENCE_LENGTH = 6
STATUS_NEW = "new"
MAX_REFERENCE_ATTEMPTS = 8


class BookingRequestRow(Base):  # type: ignore[valid-type,misc]
    __tablename__ = "booking_requests"

    id = Column(Integer, primary_key=True, autoincrement=True)
    reference = Column(String(16), nullable=False, unique=True)
    created_at = Column(DateTime(timezone=True), nullable=False, index=True)
    status = Column(String(20), nullable=False, default=STATUS_NEW)
    name = Column(String(100), nullable=False)
    contact = Column(String(254), nullable=False)
    contact_kind = Column(String(10), nullable=False)
    times_text = Column(Text, nullable=False)
    times_normalised = Column(Text, nullable=True)
    reason = Column(Text, nullable=True)
    consent_at = Column(DateTime(timezone=True), nullable=False)
    conversation_hash = Column(String(64), nullable=False)
    idempotency_key = Column(String(64), nullable=False, unique=True)


@dataclass(frozen=True)
class BookingRequest:
    """What the person confirmed, ready to store."""

    name: str
    contact: str
    contact_kind: str
    times_text: str
    times_normalised: Optional[str] = None
    reason: Optional[str] = None

    def fingerprint(self, conversation_id: str) -> str:
        """The idempotency key: the same sender confirming the same details."""
        payload = json.dumps(
            [conversation_id, self.name, self.contact, self.contact_kind, self.times_text,
             self.reason or ""],
            ensure_ascii=False,
        )
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


@dataclass(frozen=True)
class SaveResult:
    reference: str
    created: bool  # False when this confirmation had been stored already


class BookingStoreError(RuntimeError):
    """The booking database could not be used; nothing was stored."""


class UnknownBooking(LookupError):
    """No booking request has this reference."""


_schema_ready: Set[str] = set()
_schema_lock = threading.Lock()


def _url(url: Optional[str]) -> str:
    return url or get_settings().database_url


def ensure_schema(url: Optional[str] = None) -> None:
    """Create the booking table on first use in this process (idempotent)."""
    database_url = _url(url)
    if database_url in _schema_ready:
        return
    with _schema_lock:
        if database_url in _schema_ready:
            return
        engine = get_engine(database_url)
        try:
            Base.metadata.create_all(engine, tables=[BookingRequestRow.__table__])
        except SQLAlchemyError:
            # Another process may have created it at the same moment; check again.
            Base.metadata.create_all(engine, tables=[BookingRequestRow.__table__])
        _schema_ready.add(database_url)


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
        ensure_schema(database_url)
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
                        )
                    )
            except IntegrityError:
                existing = _existing_reference(key, database_url)
                if existing:
                    logger.info("booking %s confirmed again; kept the stored request", existing)
                    return SaveResult(existing, created=False)
                continue  # the reference was taken: draw another
            logger.info("booking %s stored", reference)
            return SaveResult(reference, created=True)
    except SQLAlchemyError as error:
        # The error text can hold the bound values (the person's details): log its type only.
        logger.error("booking could not be stored: %s", type(error).__name__)
        raise BookingStoreError("the booking database is unavailable") from None
    raise BookingStoreError("no free reference code after several attempts")


def list_bookings(
    url: Optional[str] = None, limit: Optional[int] = None, status: Optional[str] = None
) -> List[StoredBooking]:
    """Booking requests, newest first."""
    database_url = _url(url)
    try:
        ensure_schema(database_url)
        query = select(BookingRequestRow).order_by(
            BookingRequestRow.created_at.desc(), BookingRequestRow.id.desc()
        )
        if status:
            query = query.where(BookingRequestRow.status == status)
        if limit:
            query = query.limit(limit)
        with session_scope(database_url) as session:
            return [
                StoredBooking(
                    reference=row.reference,
                    created_at=row.created_at,
                    status=row.status,
                    name=row.name,
                    contact=row.contact,
                    contact_kind=row.contact_kind,
                    times_text=row.times_text,
                    times_normalised=row.times_normalised,
                    reason=row.reason,
                )
                for row in session.execute(query).scalars()
            ]
    except SQLAlchemyError as error:
        raise BookingStoreError(
            f"cannot read booking requests ({type(error).__name__}); check DATABASE_URL"
        ) from None


def set_status(reference: str, status: str, url: Optional[str] = None) -> str:
    """Give one request a new status (the front desk's follow-up); return the one it had."""
    database_url = _url(url)
    try:
        ensure_schema(database_url)
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
