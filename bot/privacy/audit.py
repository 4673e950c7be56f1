"""The privacy audit trail: that an erasure or a retention run happened, never what was said.

A row keeps when, what (``erase`` or ``retention``), how (``chat``, ``cli``), how many rows
went, and for an erasure a keyed hash of the conversation id. Sender ids can be phone
numbers (SMS, WhatsApp), which a plain hash would not hide, so the hash is an HMAC with a
key from ``PRIVACY_AUDIT_KEY`` or, when that is unset, a key generated once into
``var/privacy-audit.key`` (readable by its owner only). Staff who are asked "was my data
erased?" hash the id with the same key: ``python -m bot privacy audit --sender ID``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import List, Optional, Type

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import get_engine
from bot.schema import BookingRequestRow, PrivacyAuditRow, SchemaNotReady, require
from bot.settings import PROJECT_ROOT, get_settings

logger = logging.getLogger(__name__)

KEY_FILE = PROJECT_ROOT / "var" / "privacy-audit.key"
ERASE = "erase"
RETENTION = "retention"


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    action: str
    via: str
    subject_hash: Optional[str]
    conversations: int
    events: int
    bookings: int
    feedback: int


def _key(path: Path = KEY_FILE) -> bytes:
    configured = get_settings().env.privacy_audit_key
    if configured:
        return configured.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip().encode("utf-8")
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_hex(32))
    return path.read_text(encoding="utf-8").strip().encode("utf-8")


def subject_hash(conversation_id: str) -> str:
    """The keyed hash an audit row names a conversation by."""
    return hmac.new(_key(), conversation_id.encode("utf-8"), hashlib.sha256).hexdigest()


# The clinic tables an erasure or a retention run needs (the feedback table may be absent).
TABLES = (BookingRequestRow.__tablename__, PrivacyAuditRow.__tablename__)


def require_schema(url: Optional[str] = None,
                   error: Type[Exception] = SchemaNotReady) -> None:
    """Raise ``error`` (with the command to run) when the migrations have not made the tables
    of ``TABLES``; never creates one."""
    try:
        require(url or get_settings().database_url, TABLES)
    except SchemaNotReady as missing:
        logger.error("privacy: %s", missing)
        raise error(str(missing)) from None


def record(
    session: Session,
    action: str,
    via: str,
    subject: Optional[str] = None,
    conversations: int = 0,
    events: int = 0,
    bookings: int = 0,
    feedback: int = 0,
) -> None:
    """Add an audit row in the caller's transaction (so it exists exactly when the work does)."""
    session.add(
        PrivacyAuditRow(
            at=datetime.now(timezone.utc),
            action=action,
            via=via,
            subject_hash=subject_hash(subject) if subject is not None else None,
            conversations=conversations,
            events=events,
            bookings=bookings,
            feedback=feedback,
        )
    )
    logger.info("privacy %s via %s recorded (%d conversation(s), %d booking(s))",
                action, via, conversations, bookings)


def entries(
    url: Optional[str] = None, subject: Optional[str] = None, limit: Optional[int] = None
) -> List[AuditEntry]:
    """Audit rows, newest first; only those about ``subject`` when it is given."""
    require_schema(url)
    query = select(PrivacyAuditRow).order_by(PrivacyAuditRow.at.desc(), PrivacyAuditRow.id.desc())
    if subject is not None:
        query = query.where(PrivacyAuditRow.subject_hash == subject_hash(subject))
    if limit:
        query = query.limit(limit)
    with Session(get_engine(url or get_settings().database_url), future=True) as session:
        return [
            AuditEntry(row.at, row.action, row.via, row.subject_hash, row.conversations,
                       row.events, row.bookings, row.feedback)
            for row in session.execute(query).scalars()
        ]
