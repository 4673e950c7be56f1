"""The retention job: conversations and closed booking requests are kept N days, then deleted.

- A conversation goes when its **last** event is older than N days (a conversation still
  going on is kept whole).
- A booking request goes when it is closed (its status is one of
  ``privacy.closed_booking_statuses`` in config/clinic.yml) and was made more than N days
  ago. An open request is never deleted by age: staff must handle it first.
- Widget votes (``feedback``) older than N days go too.

N comes from ``--days``, else ``PRIVACY_RETENTION_DAYS``, else ``privacy.retention_days``
in config/clinic.yml (90). Run it daily (cron or a systemd timer):
``python -m bot privacy retention``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Optional

from sqlalchemy import and_, func, select
from sqlalchemy.exc import SQLAlchemyError

from bot.booking.statuses import closed_statuses
from bot.booking.store import BookingRequestRow
from bot.privacy import DEFAULT_RETENTION_DAYS, audit
from bot.privacy.deletion import FEEDBACK, delete_and_audit
from bot.privacy.stores import EVENTS, tracker_url
from bot.settings import get_settings

logger = logging.getLogger(__name__)



class RetentionError(RuntimeError):
    """A database could not be used; nothing was deleted in it."""


@dataclass(frozen=True)
class Retention:
    days: int
    cutoff: datetime
    conversations: int
    events: int
    bookings: int
    feedback: int


def _privacy_settings() -> Mapping[str, Any]:
    section = get_settings().extra.get("privacy") or {}
    return section if isinstance(section, Mapping) else {}


def retention_days(days: Optional[int] = None) -> int:
    """The number of days to keep: the argument, the environment, the config, or 90."""
    value = days
    if value is None:
        value = get_settings().env.privacy_retention_days
    if value is None:
        value = int(_privacy_settings().get("retention_days", DEFAULT_RETENTION_DAYS))
    if value < 1:
        raise ValueError(f"retention must be at least 1 day, got {value}")
    return value


def run_retention(
    days: Optional[int] = None,
    now: Optional[datetime] = None,
    via: str = "cli",
    database_url: Optional[str] = None,
    tracker_database_url: Optional[str] = None,
) -> Retention:
    """Delete what is older than the retention period; record the run in the audit table."""
    keep = retention_days(days)
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=keep)
    clinic_url = database_url or get_settings().database_url
    events_url = tracker_database_url or tracker_url()
    try:
        audit.require_schema(clinic_url, RetentionError)
        stale = (
            select(EVENTS.c.sender_id)
            .group_by(EVENTS.c.sender_id)
            .having(func.max(EVENTS.c.timestamp) < cutoff.timestamp())
        )
        deleted = delete_and_audit(
            clinic_url, events_url, audit.RETENTION, via,
            bookings=and_(BookingRequestRow.status.in_(closed_statuses()),
                          BookingRequestRow.created_at < cutoff),
            feedback=FEEDBACK.c.created_at < cutoff,
            senders=stale,
        )
    except SQLAlchemyError as error:
        logger.error("retention run failed: %s", type(error).__name__)
        raise RetentionError(
            f"a database could not be used ({type(error).__name__}); check DATABASE_URL "
            "and TRACKER_DB_URL, then run it again"
        ) from None
    return Retention(keep, cutoff, deleted.conversations, deleted.events, deleted.bookings,
                     deleted.feedback)
