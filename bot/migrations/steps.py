"""The ordered migration steps of the clinic database. Append; never edit a released step.

Every table of ``bot.schema`` is created by a step here, and by nothing else. Step 1 creates
the tables of the first release in their current shape, so each later step must check before
it changes anything (a table or an index ``checkfirst``, a column only when missing): a
fresh database and one migrated step by step then end up the same. A new table, a new
column or a new index needs a new step (``tests/unit/test_migrations.py`` fails for a table
left out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from sqlalchemy import Index, Table, inspect, text
from sqlalchemy.engine import Connection

from bot import schema


@dataclass(frozen=True)
class Migration:
    """One step: ``upgrade`` runs inside the run's transaction on ``connection``."""

    version: int
    description: str
    upgrade: Callable[[Connection], None]


def _create(connection: Connection, tables: Sequence[Table]) -> None:
    for table in tables:
        table.create(connection, checkfirst=True)


def _baseline(connection: Connection) -> None:
    """The tables of the first release (adopts a database made before migrations began)."""
    _create(connection, [
        schema.KnowledgeTopicRow.__table__, schema.KnowledgeQuoteRow.__table__,
        schema.BookingRequestRow.__table__, schema.FeedbackRow.__table__,
        schema.StaffUserRow.__table__, schema.AuditRow.__table__, schema.ChangeRow.__table__,
        schema.LabelRow.__table__, schema.ModelRow.__table__,
    ])


def _index_quote_topic(connection: Connection) -> None:
    """PostgreSQL indexes no foreign key by itself: the quotes of a topic were a full scan
    on every knowledge-base sync (``ON DELETE CASCADE``) and every topic load."""
    existing = {index["name"] for index in inspect(connection).get_indexes("knowledge_quotes")}
    if "ix_knowledge_quotes_topic_id" not in existing:
        Index("ix_knowledge_quotes_topic_id",
              schema.KnowledgeQuoteRow.__table__.c.topic_id).create(connection)


def _front_desk(connection: Connection) -> None:
    """Booking requests say whether they are a call-back; the notification outbox."""
    columns = {column["name"] for column in inspect(connection).get_columns("booking_requests")}
    if "kind" not in columns:
        connection.execute(text(
            "ALTER TABLE booking_requests ADD COLUMN kind VARCHAR(10) NOT NULL DEFAULT 'booking'"
        ))
    _create(connection, [schema.OutboxRow.__table__])


def _made_on_first_use(connection: Connection) -> None:
    """Tables the stores used to create on first use: the staff inbox's index of the
    conversation log and the privacy audit trail. A database that has them keeps them."""
    _create(connection, [schema.InboxItemRow.__table__, schema.InboxStateRow.__table__,
                         schema.PrivacyAuditRow.__table__])


MIGRATIONS = (
    Migration(1, "baseline: knowledge, bookings, feedback and staff tables", _baseline),
    Migration(2, "index knowledge_quotes.topic_id", _index_quote_topic),
    Migration(3, "booking_requests.kind (call-backs) and the notification outbox", _front_desk),
    Migration(4, "staff inbox index and privacy audit (were created on first use)",
              _made_on_first_use),
)
