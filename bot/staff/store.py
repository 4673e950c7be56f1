"""The staff loop's tables: users, the audit log, changes awaiting approval, labels, models.

Declared on the project's ``Base`` (``bot.db.TABLE_MODULES`` lists this module), so
``create_schema`` creates them next to the knowledge and booking tables.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

from sqlalchemy import Column, DateTime, Float, Integer, String, Text, select
from sqlalchemy.orm import Session

from bot.db import Base, create_schema, session_scope

logger = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class StaffUserRow(Base):  # type: ignore[valid-type,misc]
    __tablename__ = "staff_users"

    id = Column(Integer, primary_key=True, autoincrement=True)
    username = Column(String(64), nullable=False, unique=True)
    role = Column(String(16), nullable=False)
    password_hash = Column(String(255), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)
    created_by = Column(String(64), nullable=True)


class AuditRow(Base):  # type: ignore[valid-type,misc]
    """Who did what, when: every staff action that changes something."""

    __tablename__ = "staff_audit"

    id = Column(Integer, primary_key=True, autoincrement=True)
    at = Column(DateTime(timezone=True), nullable=False, index=True)
    username = Column(String(64), nullable=False)
    action = Column(String(32), nullable=False)
    target = Column(String(200), nullable=False, default="")
    details = Column(Text, nullable=False, default="{}")


class ChangeRow(Base):  # type: ignore[valid-type,misc]
    """A change to the assistant's data: applied at once or held until approved."""

    __tablename__ = "staff_changes"

    id = Column(Integer, primary_key=True, autoincrement=True)
    created_at = Column(DateTime(timezone=True), nullable=False)
    created_by = Column(String(64), nullable=False)
    kind = Column(String(24), nullable=False)  # examples | new_topic | answer
    needs_role = Column(String(16), nullable=False)  # staff | clinician
    status = Column(String(16), nullable=False, index=True)  # pending | applied | rejected
    summary = Column(String(300), nullable=False)
    payload = Column(Text, nullable=False)
    decided_by = Column(String(64), nullable=True)
    decided_at = Column(DateTime(timezone=True), nullable=True)
    note = Column(Text, nullable=True)


class LabelRow(Base):  # type: ignore[valid-type,misc]
    """A tracker message staff labelled; it leaves the inbox."""

    __tablename__ = "staff_labels"

    id = Column(Integer, primary_key=True, autoincrement=True)
    event_id = Column(Integer, nullable=False, index=True)
    text_key = Column(String(300), nullable=False, index=True)
    intent = Column(String(64), nullable=False)
    change_id = Column(Integer, nullable=True)
    username = Column(String(64), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)


class ModelRow(Base):  # type: ignore[valid-type,misc]
    """A model that was live at some point (or was refused), newest last."""

    __tablename__ = "staff_models"

    id = Column(Integer, primary_key=True, autoincrement=True)
    name = Column(String(120), nullable=False, unique=True)
    path = Column(String(500), nullable=False)
    mode = Column(String(16), nullable=False)  # initial | finetune | full
    status = Column(String(16), nullable=False, index=True)  # live | retired | rolled_back | refused
    created_at = Column(DateTime(timezone=True), nullable=False)
    created_by = Column(String(64), nullable=False)
    deployed_at = Column(DateTime(timezone=True), nullable=True)
    accuracy = Column(Float, nullable=True)
    crisis_recall = Column(Float, nullable=True)
    evaluation = Column(Text, nullable=True)  # JSON: figures and predictions on the held-out set
    note = Column(Text, nullable=True)


def ensure_schema(url: Optional[str]) -> None:
    create_schema(url)


def audit(session: Session, username: str, action: str, target: str = "",
          **details: Any) -> None:
    """Add an audit entry in the caller's transaction, so it is stored exactly when the change is."""
    session.add(AuditRow(at=utcnow(), username=username, action=action, target=target[:200],
                         details=json.dumps(details, default=str, sort_keys=True)))


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    username: str
    action: str
    target: str
    details: Dict[str, Any]


def audit_log(url: Optional[str], limit: int = 50) -> List[AuditEntry]:
    """The newest audit entries first."""
    ensure_schema(url)
    with session_scope(url) as session:
        rows = session.execute(
            select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        ).scalars().all()
        return [AuditEntry(r.at, r.username, r.action, r.target, json.loads(r.details or "{}"))
                for r in rows]
