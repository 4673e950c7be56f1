"""The ordered migration steps of the clinic database. Append; never edit a released step.

A fresh database gets every declared table from step 1, in its current shape; an older one
already has the tables. So each later step must check before it changes anything (an index
``checkfirst``, a column only when missing): both kinds of database then end up the same.
"""

from __future__ import annotations

from sqlalchemy import Index, inspect
from sqlalchemy.engine import Connection

from bot.migrations.runner import Migration, declared_tables


def _baseline(connection: Connection) -> None:
    """The tables the project declared when migrations began (adopts existing databases)."""
    declared_tables(connection)


def _index_quote_topic(connection: Connection) -> None:
    """PostgreSQL indexes no foreign key by itself: the quotes of a topic were a full scan
    on every knowledge-base sync (``ON DELETE CASCADE``) and every topic load."""
    from bot.knowledge.store import KnowledgeQuoteRow

    existing = {index["name"] for index in inspect(connection).get_indexes("knowledge_quotes")}
    if "ix_knowledge_quotes_topic_id" not in existing:
        Index("ix_knowledge_quotes_topic_id", KnowledgeQuoteRow.__table__.c.topic_id).create(
            connection
        )


def _front_desk(connection: Connection) -> None:
    """Booking requests say whether they are a call-back; the notification outbox."""
    from sqlalchemy import text

    from bot.notify.outbox import OutboxRow

    columns = {column["name"] for column in inspect(connection).get_columns("booking_requests")}
    if "kind" not in columns:
        connection.execute(text(
            "ALTER TABLE booking_requests ADD COLUMN kind VARCHAR(10) NOT NULL DEFAULT 'booking'"
        ))
    OutboxRow.__table__.create(connection, checkfirst=True)


MIGRATIONS = (
    Migration(1, "baseline: knowledge, bookings, feedback and staff tables", _baseline),
    Migration(2, "index knowledge_quotes.topic_id", _index_quote_topic),
    Migration(3, "booking_requests.kind (call-backs) and the notification outbox", _front_desk),
)
