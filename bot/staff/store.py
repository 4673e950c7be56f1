"""The staff loop's tables: users, the audit log, changes awaiting approval, labels, models.

The tables are declared in ``bot.schema`` and created by the migrations (``bot.migrations``);
the staff functions check that they exist (``require_schema``) and never create them.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import session_scope
from bot.schema import (AuditRow, ChangeRow, InboxItemRow, InboxStateRow, LabelRow, ModelRow,
                        StaffUserRow, require)

logger = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


TABLES = tuple(row.__tablename__ for row in (StaffUserRow, AuditRow, ChangeRow, LabelRow, ModelRow,
                                            InboxItemRow, InboxStateRow))


def require_schema(url: Optional[str]) -> None:
    """Raise ``bot.schema.SchemaNotReady`` (run the migrations) when a staff table is missing;
    never creates one."""
    require(url, TABLES)


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
    require_schema(url)
    with session_scope(url) as session:
        rows = session.execute(
            select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        ).scalars().all()
        return [AuditEntry(r.at, r.username, r.action, r.target, json.loads(r.details or "{}"))
                for r in rows]
