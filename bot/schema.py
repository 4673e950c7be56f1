"""The clinic database's tables, declared once: the stores read and write them, the
migrations (``bot.migrations``) create and change them, nothing else does.

``Base.metadata`` holds exactly the project's own tables. Rasa's ``events`` table (the
tracker store) is not among them: Rasa creates and owns it. ``TRACKER_EVENTS`` describes it
(on its own ``MetaData``) for the code that reads it or deletes from it.

A store never creates a table. It calls ``require`` before its first use of a database;
when a table is missing (a fresh database, or a release that added a table and was started
without migrating) that raises ``SchemaNotReady`` naming the command that creates it.
"""

from __future__ import annotations

import threading
from typing import Iterable, Optional, Set

from sqlalchemy import (Column, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, MetaData,
                        String, Table, Text, inspect)
from sqlalchemy.orm import declarative_base, relationship

from bot.db import get_engine
from bot.settings import get_settings

Base = declarative_base()

MIGRATE_COMMAND = "python -m bot deploy migrate"

# -- Rasa's tracker store (rasa/core/tracker_store.py, SQLEvent): read here, created by Rasa --
TRACKER_EVENTS = Table(
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False, index=True),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)

# -- knowledge base (bot.knowledge.store) -------------------------------------------------


class KnowledgeTopicRow(Base):  # type: ignore[valid-type,misc]
    __tablename__ = "knowledge_topics"

    id = Column(String(48), primary_key=True)
    position = Column(Integer, nullable=False, default=0)
    title = Column(String(120), nullable=False)
    section = Column(String(200), nullable=False, default="")
    answer = Column(Text, nullable=False)
    follow_ups = Column(Text, nullable=False, default="[]")
    updated_at = Column(DateTime(timezone=True), nullable=False)
    quotes = relationship(
        "KnowledgeQuoteRow",
        order_by="KnowledgeQuoteRow.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class KnowledgeQuoteRow(Base):  # type: ignore[valid-type,misc]
    __tablename__ = "knowledge_quotes"

    id = Column(Integer, primary_key=True, autoincrement=True)
    topic_id = Column(String(48), ForeignKey("knowledge_topics.id", ondelete="CASCADE"))
    position = Column(Integer, nullable=False)
    text = Column(Text, nullable=False)


# -- booking requests and their notifications (bot.booking.store, bot.booking.outbox) ------

BOOKING_STATUS_NEW = "new"
KIND_BOOKING = "booking"
OUTBOX_PENDING = "pending"


class BookingRequestRow(Base):  # type: ignore[valid-type,misc]
    __tablename__ = "booking_requests"

    id = Column(Integer, primary_key=True, autoincrement=True)
    reference = Column(String(16), nullable=False, unique=True)
    created_at = Column(DateTime(timezone=True), nullable=False, index=True)
    status = Column(String(20), nullable=False, default=BOOKING_STATUS_NEW)
    name = Column(String(100), nullable=False)
    contact = Column(String(254), nullable=False)
    contact_kind = Column(String(10), nullable=False)
    times_text = Column(Text, nullable=False)
    times_normalised = Column(Text, nullable=True)
    reason = Column(Text, nullable=True)
    consent_at = Column(DateTime(timezone=True), nullable=False)
    conversation_hash = Column(String(64), nullable=False)
    idempotency_key = Column(String(64), nullable=False, unique=True)
    kind = Column(String(10), nullable=False, default=KIND_BOOKING, server_default=KIND_BOOKING)


class OutboxRow(Base):  # type: ignore[valid-type,misc]
    __tablename__ = "notification_outbox"

    id = Column(Integer, primary_key=True, autoincrement=True)
    reference = Column(String(16), nullable=False, index=True)
    channel = Column(String(20), nullable=False)
    status = Column(String(12), nullable=False, default=OUTBOX_PENDING, index=True)
    created_at = Column(DateTime(timezone=True), nullable=False)
    next_attempt_at = Column(DateTime(timezone=True), nullable=False, index=True)
    attempts = Column(Integer, nullable=False, default=0)
    lease_token = Column(String(32), nullable=True)
    leased_until = Column(DateTime(timezone=True), nullable=True)
    sent_at = Column(DateTime(timezone=True), nullable=True)
    last_error = Column(Text, nullable=True)  # the error's type and a short reason, no content


# -- answer feedback (bot.web.feedback) ----------------------------------------------------

FEEDBACK_SENDER_CHARS = 128
FEEDBACK_TOPIC_CHARS = 64


class FeedbackRow(Base):  # type: ignore[valid-type,misc]
    __tablename__ = "feedback"

    id = Column(Integer, primary_key=True, autoincrement=True)
    created_at = Column(DateTime(timezone=True), nullable=False, index=True)
    sender_id = Column(String(FEEDBACK_SENDER_CHARS), nullable=False, index=True)
    topic = Column(String(FEEDBACK_TOPIC_CHARS), nullable=True)
    message_index = Column(Integer, nullable=True)
    message_hash = Column(String(64), nullable=True)
    value = Column(String(8), nullable=False)


# -- the staff loop (bot.staff.store, bot.staff.inbox_index) -------------------------------


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


class InboxItemRow(Base):  # type: ignore[valid-type,misc]
    """The staff inbox's index of the conversation log: one typed user message, masked."""

    __tablename__ = "staff_inbox_items"

    event_id = Column(Integer, primary_key=True, autoincrement=False)
    sender_hash = Column(String(64), nullable=False, index=True)
    at = Column(Float, nullable=False, index=True)
    text = Column(Text, nullable=False)
    text_key = Column(String(300), nullable=False)
    intent = Column(String(128), nullable=False, index=True)
    topic = Column(String(128), nullable=False, index=True)
    confidence = Column(Float, nullable=False, index=True)
    clarified = Column(Integer, nullable=False, default=0)  # the assistant asked "did you mean"
    vector = Column(LargeBinary, nullable=True)

    __table_args__ = (Index("ix_staff_inbox_items_intent_at", "intent", "at"),)


class InboxStateRow(Base):  # type: ignore[valid-type,misc]
    __tablename__ = "staff_inbox_state"

    name = Column(String(32), primary_key=True)
    value = Column(Integer, nullable=False, default=0)


# -- the privacy audit trail (bot.privacy.audit) -------------------------------------------


class PrivacyAuditRow(Base):  # type: ignore[valid-type,misc]
    __tablename__ = "privacy_audit"

    id = Column(Integer, primary_key=True, autoincrement=True)
    at = Column(DateTime(timezone=True), nullable=False, index=True)
    action = Column(String(16), nullable=False)
    via = Column(String(16), nullable=False)
    subject_hash = Column(String(64), nullable=True, index=True)
    conversations = Column(Integer, nullable=False, default=0)
    events = Column(Integer, nullable=False, default=0)
    bookings = Column(Integer, nullable=False, default=0)
    feedback = Column(Integer, nullable=False, default=0)


# -- the check the stores make before first use ---------------------------------------------


class SchemaNotReady(RuntimeError):
    """The database lacks a table the code needs: the migrations have not been run on it."""


_checked: Set[tuple] = set()
_lock = threading.Lock()


def require(url: Optional[str], tables: Iterable[str]) -> None:
    """Raise ``SchemaNotReady`` unless the database at ``url`` has every one of ``tables``.

    Checked once per database and set of tables in a process (an inspection, no DDL); a
    failed check is repeated on the next call, so migrating makes the store work without a
    restart. Errors reaching the database (it is down) propagate as SQLAlchemy's own.
    """
    database_url = url or get_settings().database_url
    wanted = tuple(sorted(tables))
    key = (database_url, wanted)
    if key in _checked:
        return
    with _lock:
        if key in _checked:
            return
        engine = get_engine(database_url)
        with engine.connect() as connection:
            inspector = inspect(connection)
            missing = [name for name in wanted if not inspector.has_table(name)]
        if missing:
            raise SchemaNotReady(
                f"the {engine.dialect.name} database has no table {', '.join(missing)}: "
                f"run the migrations first (`{MIGRATE_COMMAND}`; `make run` and "
                "`make run-prod` run them before serving)"
            )
        _checked.add(key)


def forget_checks() -> None:
    """Check again on next use (tests that drop and re-create a database under one URL)."""
    with _lock:
        _checked.clear()
