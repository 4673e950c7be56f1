"""The inbox: what real people asked that the assistant was unsure about or got wrong.

Read from Rasa's SQL tracker store (table ``events``) and the widget's ``feedback`` table:
messages with low confidence, a fallback, an out-of-scope reply, or a thumbs down. Newest
first, similar messages grouped, each with the topic the assistant picked and how sure it
was. Texts are masked (``masking``) before they leave this module; so are conversation ids.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, inspect, select
from sqlalchemy.engine.url import make_url

from bot.db import get_engine, session_scope
from bot.intents import BOOK_APPOINTMENT, BOOKING_TOPIC, FALLBACK_INTENT, OUT_OF_SCOPE
from bot.staff import grouping, masking
from bot.staff.project import DEFAULT_GROUP_SIMILARITY, DEFAULT_INBOX_THRESHOLD, Project, staff_setting
from bot.staff.store import LabelRow, ensure_schema
from bot.staff.users import User, require

logger = logging.getLogger(__name__)

BOOKING_FORM = "booking_form"
# Slots whose values identify the person; masked wherever they appear in that conversation.
PERSONAL_SLOTS = ("booking_name", "booking_contact")
REASON_LOW = "low confidence"
REASON_FALLBACK = "unsure (fallback)"
REASON_OUT_OF_SCOPE = "out of scope"
REASON_THUMBS_DOWN = "thumbs down"
SCAN_LIMIT = 5000

# Rasa's SQLTrackerStore table, declared here only to read it (never created by us).
_tracker_metadata = MetaData()
EVENTS = Table(
    "events", _tracker_metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("type_name", String(255)),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)


@dataclass(frozen=True)
class InboxMessage:
    """One message as staff see it: masked, with the assistant's guess."""

    event_id: int
    conversation: str
    at: datetime
    text: str
    topic: str
    confidence: float
    reasons: Tuple[str, ...]
    labelled_as: Optional[str] = None

    def as_dict(self) -> Dict[str, Any]:
        return {"id": self.event_id, "conversation": self.conversation,
                "at": self.at.isoformat(timespec="seconds"), "text": self.text,
                "topic": self.topic, "confidence": round(self.confidence, 3),
                "reasons": list(self.reasons), "labelled_as": self.labelled_as}


@dataclass
class InboxGroup:
    """Similar messages; the newest represents them."""

    messages: List[InboxMessage] = field(default_factory=list)

    @property
    def newest(self) -> InboxMessage:
        return self.messages[0]

    @property
    def reasons(self) -> List[str]:
        seen: Dict[str, None] = {}
        for message in self.messages:
            seen.update(dict.fromkeys(message.reasons))
        return list(seen)

    @property
    def ids(self) -> List[int]:
        return [m.event_id for m in self.messages]


@dataclass(frozen=True)
class TrackedMessage:
    """A user message read from the tracker store (unmasked; stays inside the core)."""

    event_id: int
    sender_id: str
    timestamp: float
    text: str
    intent: str
    confidence: float
    ranking: Tuple[Tuple[str, float], ...]
    in_form: bool
    known_values: Tuple[str, ...]

    @property
    def masked(self) -> str:
        return masking.mask(self.text, self.known_values)

    def guess(self) -> Tuple[str, float]:
        """The topic the assistant leaned to and its confidence (past a fallback)."""
        if self.intent == FALLBACK_INTENT:
            for name, confidence in self.ranking:
                if name != FALLBACK_INTENT:
                    return topic_of(name), confidence
        return topic_of(self.intent), self.confidence


def topic_of(intent: str) -> str:
    return BOOKING_TOPIC if intent == BOOK_APPOINTMENT else intent


def intent_of(topic: str) -> str:
    return BOOK_APPOINTMENT if topic == BOOKING_TOPIC else topic


def conversation_label(sender_id: str) -> str:
    """A short stable id for a conversation; sender ids can be phone numbers, so never shown."""
    return "c-" + hashlib.sha256(sender_id.encode("utf-8")).hexdigest()[:8]


def text_key(text: str) -> str:
    return grouping.normalise(text)[:300]


def _tracker_ready(url: str) -> bool:
    """True once Rasa has written conversations (never creates an empty SQLite file)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        if not Path(parsed.database).exists():
            return False
    return inspect(get_engine(url)).has_table("events")


def _load(row_data: Optional[str]) -> Dict[str, Any]:
    try:
        data = json.loads(row_data or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def read_messages(project: Project, limit: int = SCAN_LIMIT,
                  event_ids: Optional[Sequence[int]] = None) -> List[TrackedMessage]:
    """User messages newest first (or exactly ``event_ids``), with conversation context."""
    if not _tracker_ready(project.tracker_url):
        return []
    engine = get_engine(project.tracker_url)
    with engine.connect() as connection:
        query = select(EVENTS).where(EVENTS.c.type_name == "user")
        if event_ids is not None:
            query = query.where(EVENTS.c.id.in_(list(event_ids)))
        rows = connection.execute(query.order_by(EVENTS.c.id.desc()).limit(limit)).all()
        senders = sorted({r.sender_id for r in rows})
        context = connection.execute(
            select(EVENTS.c.id, EVENTS.c.sender_id, EVENTS.c.type_name, EVENTS.c.data)
            .where(EVENTS.c.sender_id.in_(senders),
                   EVENTS.c.type_name.in_(["slot", "active_loop"]))
            .order_by(EVENTS.c.id)
        ).all() if senders else []
    values: Dict[str, Set[str]] = defaultdict(set)
    loops: Dict[str, List[Tuple[int, Optional[str]]]] = defaultdict(list)
    for row in context:
        data = _load(row.data)
        if row.type_name == "slot" and data.get("name") in PERSONAL_SLOTS and data.get("value"):
            values[row.sender_id].add(str(data["value"]))
        elif row.type_name == "active_loop":
            loops[row.sender_id].append((row.id, data.get("name")))
    messages = []
    for row in rows:
        data = _load(row.data)
        parse = data.get("parse_data") or {}
        intent = parse.get("intent") or {}
        ranking = tuple(
            (str(item.get("name")), float(item.get("confidence") or 0.0))
            for item in parse.get("intent_ranking") or [] if isinstance(item, dict)
        )
        loop_before = [name for event_id, name in loops[row.sender_id] if event_id < row.id]
        messages.append(TrackedMessage(
            event_id=int(row.id), sender_id=str(row.sender_id), timestamp=float(row.timestamp or 0),
            text=str(data.get("text") or ""), intent=str(intent.get("name") or row.intent_name or ""),
            confidence=float(intent.get("confidence") or 0.0), ranking=ranking,
            in_form=bool(loop_before and loop_before[-1] == BOOKING_FORM),
            known_values=tuple(sorted(values[row.sender_id])),
        ))
    return messages


def _thumbs_down(project: Project, messages: Sequence[TrackedMessage]) -> Set[int]:
    """Event ids of messages whose answer got a thumbs down in the web widget."""
    try:
        from bot.web.feedback import FeedbackRow
    except ModuleNotFoundError:
        return set()
    if not inspect(get_engine(project.database_url)).has_table(FeedbackRow.__tablename__):
        return set()
    senders = sorted({m.sender_id for m in messages})
    with session_scope(project.database_url) as session:
        votes = session.execute(
            select(FeedbackRow.sender_id, FeedbackRow.message_index, FeedbackRow.topic,
                   FeedbackRow.created_at)
            .where(FeedbackRow.value == "down", FeedbackRow.sender_id.in_(senders))
        ).all()
    by_sender: Dict[str, List[TrackedMessage]] = defaultdict(list)
    for message in sorted(messages, key=lambda m: m.event_id):
        by_sender[message.sender_id].append(message)
    found = set()
    for sender_id, index, topic, created_at in votes:
        turns = by_sender.get(sender_id) or []
        if index is not None and 0 <= index < len(turns):
            found.add(turns[index].event_id)
            continue
        # no position: the latest message before the vote whose answer had that topic
        cutoff = created_at.replace(tzinfo=timezone.utc).timestamp() if created_at else float("inf")
        match = [t for t in turns if t.timestamp <= cutoff and (topic is None or t.guess()[0] == topic)]
        if match:
            found.add(match[-1].event_id)
    return found


def _labels(project: Project) -> Tuple[Dict[int, str], Dict[str, Tuple[str, datetime]]]:
    ensure_schema(project.database_url)
    with session_scope(project.database_url) as session:
        rows = session.execute(select(LabelRow.event_id, LabelRow.text_key, LabelRow.intent,
                                      LabelRow.created_at)).all()
    by_event = {int(r.event_id): str(r.intent) for r in rows}
    by_text = {str(r.text_key): (str(r.intent), r.created_at) for r in rows}
    return by_event, by_text


def reasons_for(message: TrackedMessage, threshold: float, thumbs_down: bool) -> Tuple[str, ...]:
    reasons = []
    topic, confidence = message.guess()
    if message.intent == FALLBACK_INTENT:
        reasons.append(REASON_FALLBACK)
    if message.intent == OUT_OF_SCOPE:
        reasons.append(REASON_OUT_OF_SCOPE)
    if confidence < threshold and message.intent != FALLBACK_INTENT:
        reasons.append(REASON_LOW)
    if thumbs_down:
        reasons.append(REASON_THUMBS_DOWN)
    return tuple(reasons)


def _reviewable(message: TrackedMessage) -> bool:
    """Typed questions only: not button payloads, not answers typed into the booking form."""
    text = message.text.strip()
    return bool(text) and not text.startswith("/") and not message.in_form


def inbox_messages(project: Project, user: Optional[User], threshold: Optional[float] = None,
                   include_labelled: bool = False, scan: int = SCAN_LIMIT) -> List[InboxMessage]:
    require(user, "read_inbox")
    limit = threshold if threshold is not None else staff_setting("inbox_threshold",
                                                                  DEFAULT_INBOX_THRESHOLD)
    messages = [m for m in read_messages(project, scan) if _reviewable(m)]
    down = _thumbs_down(project, messages)
    by_event, by_text = _labels(project)
    found = []
    for message in messages:
        reasons = reasons_for(message, limit, message.event_id in down)
        if not reasons:
            continue
        masked = message.masked
        labelled = by_event.get(message.event_id)
        if labelled is None:
            earlier = by_text.get(text_key(masked))
            if earlier and earlier[1].replace(tzinfo=timezone.utc).timestamp() >= message.timestamp:
                labelled = earlier[0]
        if labelled and not include_labelled:
            continue
        topic, confidence = message.guess()
        found.append(InboxMessage(
            event_id=message.event_id, conversation=conversation_label(message.sender_id),
            at=datetime.fromtimestamp(message.timestamp, tz=timezone.utc), text=masked,
            topic=topic, confidence=confidence, reasons=reasons,
            labelled_as=topic_of(labelled) if labelled else None,
        ))
    return found


def inbox(project: Project, user: Optional[User], threshold: Optional[float] = None,
          include_labelled: bool = False, limit: int = 100) -> List[InboxGroup]:
    """The inbox: groups of similar messages, the group with the newest message first."""
    found = inbox_messages(project, user, threshold, include_labelled)
    similar = staff_setting("group_similarity", DEFAULT_GROUP_SIMILARITY)
    groups = grouping.group_similar(found, lambda m: m.text, similar)
    return [InboxGroup(list(g.items)) for g in groups[:limit]]


def tracked(project: Project, event_ids: Iterable[int]) -> List[TrackedMessage]:
    """The tracker messages with these ids (for labelling); raise if one is unknown."""
    wanted = sorted({int(i) for i in event_ids})
    found = read_messages(project, limit=len(wanted) or 1, event_ids=wanted)
    missing = sorted(set(wanted) - {m.event_id for m in found})
    if missing:
        raise ValueError(f"No message with id {', '.join(map(str, missing))} in the conversation log.")
    return found
