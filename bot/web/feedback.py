"""Thumbs up / down on the assistant's answers, stored in SQL for staff to review.

A row names the conversation (the channel's sender id), the answer's topic, the answer's
position in the conversation and a SHA-256 of its text, so staff can find the answer in the
conversation log without this table holding a copy of what was said. The widget sends the
answer's text only so the hash is computed here; the text is neither stored nor logged.

A vote is taken only for an answer that exists in that conversation (the hash of its text
is found among the conversation's bot messages in the tracker store), so nobody can put a
message of someone else's into the staff inbox by naming their sender id.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import inspect, select

from bot.db import get_engine, session_scope
from bot.schema import (FEEDBACK_SENDER_CHARS, FEEDBACK_TOPIC_CHARS, TRACKER_EVENTS, FeedbackRow,
                        require)

logger = logging.getLogger(__name__)

VALUES = ("up", "down")
MAX_SENDER_CHARS = FEEDBACK_SENDER_CHARS
MAX_TOPIC_CHARS = FEEDBACK_TOPIC_CHARS
MAX_MESSAGE_CHARS = 20_000
MAX_MESSAGE_INDEX = 1_000_000
TOPIC_PATTERN = re.compile(r"^[a-z0-9_]+$")
TABLES = (FeedbackRow.__tablename__,)


class InvalidFeedback(ValueError):
    """The feedback cannot be stored; the message tells the caller what to send instead."""


@dataclass(frozen=True)
class Feedback:
    """One vote on one answer, validated."""

    sender_id: str
    value: str
    topic: str | None = None
    message_index: int | None = None
    message_hash: str | None = None


def text_hash(text: str) -> str:
    """The hash staff match against the answer's text in the conversation log."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_feedback(body: Any) -> Feedback:
    """Check a decoded JSON body; raise ``InvalidFeedback`` saying what is wrong."""
    if not isinstance(body, dict):
        raise InvalidFeedback(
            "Send a JSON object with 'sender' and 'value' ('up' or 'down')."
        )
    sender = body.get("sender")
    if not isinstance(sender, str) or not sender.strip():
        raise InvalidFeedback("'sender' must be a non-empty string.")
    sender = sender.strip()
    if len(sender) > MAX_SENDER_CHARS:
        raise InvalidFeedback(f"'sender' must be at most {MAX_SENDER_CHARS} characters.")
    value = body.get("value")
    if value not in VALUES:
        raise InvalidFeedback("'value' must be 'up' or 'down'.")
    topic = body.get("topic")
    if topic is not None and (
        not isinstance(topic, str)
        or len(topic) > MAX_TOPIC_CHARS
        or not TOPIC_PATTERN.match(topic)
    ):
        raise InvalidFeedback(
            f"'topic' must be a topic id (lower-case letters, digits, '_'; at most "
            f"{MAX_TOPIC_CHARS} characters) or left out."
        )
    index = body.get("message_index")
    if index is not None and (
        isinstance(index, bool) or not isinstance(index, int)
        or not 0 <= index <= MAX_MESSAGE_INDEX
    ):
        raise InvalidFeedback("'message_index' must be a whole number from 0, or left out.")
    message = body.get("message")
    if message is not None and (not isinstance(message, str) or len(message) > MAX_MESSAGE_CHARS):
        raise InvalidFeedback(
            f"'message' must be the answer's text (at most {MAX_MESSAGE_CHARS} characters) "
            "or left out."
        )
    return Feedback(
        sender_id=sender,
        value=str(value),
        topic=topic,
        message_index=index,
        message_hash=text_hash(message) if message else None,
    )


def answer_hashes(tracker_url: str, sender_id: str) -> set[str]:
    """Hashes of the answers this conversation holds: each bot message, and each turn's bot
    messages joined by newlines (what the widget sends as ``message``)."""
    engine = get_engine(tracker_url)
    if not inspect(engine).has_table(TRACKER_EVENTS.name):
        return set()
    query = (select(TRACKER_EVENTS.c.type_name, TRACKER_EVENTS.c.data)
             .where(TRACKER_EVENTS.c.sender_id == sender_id, TRACKER_EVENTS.c.type_name.in_(("user", "bot")))
             .order_by(TRACKER_EVENTS.c.id))
    hashes: set[str] = set()
    turn: list[str] = []
    with engine.connect() as connection:
        for kind, data in connection.execute(query):
            if kind == "user":
                turn = []
                continue
            try:
                text = json.loads(data).get("text")
            except (TypeError, ValueError):
                continue
            if isinstance(text, str) and text:
                turn.append(text)
                hashes.add(text_hash(text))
                hashes.add(text_hash("\n".join(turn)))
    return hashes


def vote_is_for_a_real_answer(feedback: Feedback, tracker_url: str) -> bool:
    """True when the voted answer is one the assistant gave in that conversation."""
    return bool(feedback.message_hash) and (
        feedback.message_hash in answer_hashes(tracker_url, feedback.sender_id))


def require_schema(url: str | None = None) -> None:
    """``bot.schema.SchemaNotReady`` (run the migrations) when the feedback table is missing."""
    require(url, TABLES)


def store_feedback(feedback: Feedback, url: str | None = None) -> int:
    """Store a vote; a second vote on the same answer replaces the first. Returns the row id."""
    require_schema(url)
    now = datetime.now(timezone.utc)
    with session_scope(url) as session:
        existing = None
        if feedback.message_index is not None:
            existing = session.execute(
                select(FeedbackRow).where(
                    FeedbackRow.sender_id == feedback.sender_id,
                    FeedbackRow.message_index == feedback.message_index,
                    FeedbackRow.message_hash == feedback.message_hash,
                )
            ).scalars().first()
        if existing is not None:
            existing.value = feedback.value
            existing.created_at = now
            row = existing
        else:
            row = FeedbackRow(
                created_at=now,
                sender_id=feedback.sender_id,
                topic=feedback.topic,
                message_index=feedback.message_index,
                message_hash=feedback.message_hash,
                value=feedback.value,
            )
            session.add(row)
        session.flush()
        row_id = int(row.id)
    logger.info("feedback %s stored for topic %s", feedback.value, feedback.topic or "-")
    return row_id


def feedback_for(sender_id: str, url: str | None = None) -> list[dict[str, Any]]:
    """A conversation's votes, oldest first, as staff read them next to the transcript."""
    with session_scope(url) as session:
        rows = session.execute(
            select(FeedbackRow)
            .where(FeedbackRow.sender_id == sender_id)
            .order_by(FeedbackRow.created_at, FeedbackRow.id)
        ).scalars().all()
        return [
            {
                "created_at": row.created_at,
                "topic": row.topic,
                "message_index": row.message_index,
                "message_hash": row.message_hash,
                "value": row.value,
            }
            for row in rows
        ]
