"""The outbox: one row per notification to send, written with the request it is about.

A row names the request by reference and says which channel to use; what is sent is built
from the request when it is sent, so the outbox holds no personal details and an erased
request is never announced. Nothing here logs what a person typed.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import List, Optional, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.db import session_scope
from bot.schema import OUTBOX_PENDING, OutboxRow

logger = logging.getLogger(__name__)

CLINIC_EMAIL = "clinic_email"
RECEIPT_EMAIL = "receipt_email"
WEBHOOK = "webhook"
CHANNELS = (CLINIC_EMAIL, RECEIPT_EMAIL, WEBHOOK)

PENDING = OUTBOX_PENDING
SENT = "sent"
FAILED = "failed"  # gave up after MAX_ATTEMPTS; shown to staff
DROPPED = "dropped"  # the request was erased before it was sent
SKIPPED = "skipped"  # a webhook row while no webhook is configured

MAX_ATTEMPTS = 20
BASE_DELAY_SECONDS = 5.0
MAX_DELAY_SECONDS = 1800.0


@dataclass(frozen=True)
class Job:
    id: int
    reference: str
    channel: str
    attempts: int
    token: str


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _aware(moment: Optional[datetime]) -> Optional[datetime]:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


def enqueue(session: Session, reference: str, channels: Sequence[str], now: datetime) -> None:
    """Add one pending row per channel, in the caller's transaction (committed with it)."""
    for channel in channels:
        session.add(OutboxRow(reference=reference, channel=channel, status=PENDING,
                              created_at=now, next_attempt_at=now, attempts=0))


def backoff(attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` failures (5 s, 10 s, ... 30 min)."""
    return min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * (2 ** max(0, attempts - 1)))


def claim(url: Optional[str], lease_seconds: float, limit: int = 10,
          now: Optional[datetime] = None) -> List[Job]:
    """Lease up to ``limit`` due rows; a row leased by a worker that died is due again later."""
    moment = now or utcnow()
    jobs: List[Job] = []
    with session_scope(url) as session:
        candidates = session.execute(
            select(OutboxRow.id).where(
                OutboxRow.status == PENDING,
                OutboxRow.next_attempt_at <= moment,
                (OutboxRow.leased_until.is_(None)) | (OutboxRow.leased_until <= moment),
            ).order_by(OutboxRow.next_attempt_at, OutboxRow.id).limit(limit)
        ).scalars().all()
    for row_id in candidates:
        token = secrets.token_hex(8)
        with session_scope(url) as session:
            # Compare-and-set: only one worker wins a row.
            won = session.execute(
                update(OutboxRow).where(
                    OutboxRow.id == row_id, OutboxRow.status == PENDING,
                    (OutboxRow.leased_until.is_(None)) | (OutboxRow.leased_until <= moment),
                ).values(lease_token=token,
                         leased_until=moment + timedelta(seconds=lease_seconds))
            ).rowcount
            if won != 1:
                continue
            row = session.get(OutboxRow, row_id)
            assert row is not None
            jobs.append(Job(int(row.id), str(row.reference), str(row.channel),
                            int(row.attempts), token))
    return jobs


def finish(url: Optional[str], job: Job, **values: object) -> bool:
    with session_scope(url) as session:
        done = session.execute(
            update(OutboxRow).where(OutboxRow.id == job.id, OutboxRow.lease_token == job.token)
            .values(lease_token=None, leased_until=None, **values)
        ).rowcount
    return done == 1


def mark_sent(url: Optional[str], job: Job, now: Optional[datetime] = None) -> bool:
    return finish(url, job, status=SENT, sent_at=now or utcnow(), attempts=job.attempts + 1,
                   last_error=None)


def mark_dropped(url: Optional[str], job: Job, reason: str) -> bool:
    return finish(url, job, status=DROPPED, last_error=reason[:200])


def mark_failed(url: Optional[str], job: Job, reason: str,
                now: Optional[datetime] = None) -> float:
    """Record a failed attempt; return the seconds until the next one (0: given up)."""
    attempts = job.attempts + 1
    if attempts >= MAX_ATTEMPTS:
        finish(url, job, status=FAILED, attempts=attempts, last_error=reason[:200])
        return 0.0
    delay = backoff(attempts)
    finish(url, job, attempts=attempts, last_error=reason[:200],
            next_attempt_at=(now or utcnow()) + timedelta(seconds=delay))
    return delay


def counts(url: Optional[str] = None) -> dict:
    """Rows per status (for the staff page and the measurements)."""
    with session_scope(url) as session:
        rows = session.execute(
            select(OutboxRow.status, func.count()).group_by(OutboxRow.status)
        ).all()
    return {str(status): int(count) for status, count in rows}


def rows_for(reference: str, url: Optional[str] = None) -> List[OutboxRow]:
    with session_scope(url) as session:
        rows = session.execute(
            select(OutboxRow).where(OutboxRow.reference == reference).order_by(OutboxRow.id)
        ).scalars().all()
        session.expunge_all()
        return list(rows)


def next_due(url: Optional[str] = None) -> Optional[datetime]:
    with session_scope(url) as session:
        return _aware(session.execute(
            select(func.min(OutboxRow.next_attempt_at)).where(OutboxRow.status == PENDING)
        ).scalar_one_or_none())
