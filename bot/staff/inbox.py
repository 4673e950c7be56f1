"""The inbox: what real people asked that the assistant was unsure about or got wrong.

Read from Rasa's SQL tracker store (table ``events``) and the widget's ``feedback`` table:
messages with low confidence, a fallback, an out-of-scope reply, or a thumbs down. Newest
first, similar messages grouped, each with the topic the assistant picked and how sure it
was. Texts are masked (``masking``) before they leave this module; so are conversation ids.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from sqlalchemy import (func, inspect, or_,
                        select)

from bot.db import get_engine, session_scope
from bot.intents import FALLBACK_INTENT, OUT_OF_SCOPE
from bot.staff import grouping, inbox_index
from bot.staff.tracked import (  # noqa: F401  (the inbox's names for what it reads)
    BOOKING_FORM,
    EVENTS,
    IDENTITY_SLOTS,
    SCAN_LIMIT,
    TrackedMessage,
    intent_of,
    read_messages,
    topic_of,
    tracker_ready,
)
from bot.staff.project import (DEFAULT_GROUP_SIMILARITY, DEFAULT_INBOX_THRESHOLD,
                               DEFAULT_MEANING_SIMILARITY, Project, staff_setting)
from bot.staff.store import LabelRow, require_schema
from bot.staff.users import User, require

logger = logging.getLogger(__name__)

REASON_LOW = "low confidence"
REASON_FALLBACK = "unsure (fallback)"
REASON_OUT_OF_SCOPE = "out of scope"
REASON_THUMBS_DOWN = "thumbs down"
REASON_CLARIFY = "asked to clarify"
# The inbox's reason filter: key -> what staff read
REASON_CHOICES = {"fallback": "Unsure", "low": "Low confidence", "out_of_scope": "Out of scope",
                  "clarify": "Asked to clarify", "thumbs_down": "Thumbs down"}
MAX_GROUP_SHOWN = 50

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
    size: int = 0  # messages in the group; only the newest MAX_GROUP_SHOWN are in ``messages``

    def __post_init__(self) -> None:
        self.size = max(self.size, len(self.messages))

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


def conversation_label(sender_id: str) -> str:
    """A short stable id for a conversation; sender ids can be phone numbers, so never shown."""
    return "c-" + hashlib.sha256(sender_id.encode("utf-8")).hexdigest()[:8]


def text_key(text: str) -> str:
    return grouping.normalise(text)[:300]


def _thumbs_down(project: Project) -> Set[int]:
    """Event ids of messages whose answer got a thumbs down in the web widget."""
    try:
        from bot.schema import FeedbackRow
    except ModuleNotFoundError:
        return set()
    if not inspect(get_engine(project.database_url)).has_table(FeedbackRow.__tablename__):
        return set()
    with session_scope(project.database_url) as session:
        votes = session.execute(
            select(FeedbackRow.sender_id, FeedbackRow.message_index, FeedbackRow.topic,
                   FeedbackRow.created_at)
            .where(FeedbackRow.value == "down")
            .order_by(FeedbackRow.id.desc()).limit(SCAN_LIMIT)
        ).all()
    if not votes:
        return set()
    by_sender = inbox_index.senders_of(project, (inbox_index.sender_hash(v[0]) for v in votes))
    found = set()
    untimed = []
    for sender_id, index, topic, created_at in votes:
        turns = by_sender.get(inbox_index.sender_hash(sender_id)) or []
        if index is not None and 0 <= index < len(turns):
            found.add(turns[index])
        elif turns:
            untimed.append((turns, topic, created_at))
    if untimed:
        # no position: the latest message before the vote whose answer had that topic
        wanted = sorted({i for turns, _t, _c in untimed for i in turns})
        with session_scope(project.database_url) as session:
            info = {int(r.event_id): (float(r.at), str(r.topic)) for r in session.execute(
                select(inbox_index.InboxItemRow.event_id, inbox_index.InboxItemRow.at,
                       inbox_index.InboxItemRow.topic)
                .where(inbox_index.InboxItemRow.event_id.in_(wanted)))}
        for turns, topic, created_at in untimed:
            cutoff = created_at.replace(tzinfo=timezone.utc).timestamp() if created_at else float("inf")
            match = [t for t in turns if info[t][0] <= cutoff and (topic is None or info[t][1] == topic)]
            if match:
                found.add(match[-1])
    return found


def _labels(project: Project) -> Tuple[Dict[int, str], Dict[str, Tuple[str, datetime]]]:
    require_schema(project.database_url)
    with session_scope(project.database_url) as session:
        rows = session.execute(select(LabelRow.event_id, LabelRow.text_key, LabelRow.intent,
                                      LabelRow.created_at)).all()
    by_event = {int(r.event_id): str(r.intent) for r in rows}
    by_text = {str(r.text_key): (str(r.intent), r.created_at) for r in rows}
    return by_event, by_text


def reasons_for(message: TrackedMessage, threshold: float, thumbs_down: bool) -> Tuple[str, ...]:
    topic, confidence = message.guess()
    return _reasons(message.intent, confidence, threshold, thumbs_down, False)


def _reasons(intent: str, confidence: float, threshold: float, thumbs_down: bool,
             clarified: bool) -> Tuple[str, ...]:
    reasons = []
    if intent == FALLBACK_INTENT:
        reasons.append(REASON_FALLBACK)
    if intent == OUT_OF_SCOPE:
        reasons.append(REASON_OUT_OF_SCOPE)
    if confidence < threshold and intent != FALLBACK_INTENT:
        reasons.append(REASON_LOW)
    if clarified:
        reasons.append(REASON_CLARIFY)
    if thumbs_down:
        reasons.append(REASON_THUMBS_DOWN)
    return tuple(reasons)


def _reviewable(message: TrackedMessage) -> bool:
    """Typed questions only: not button payloads, not answers typed into the booking form."""
    text = message.text.strip()
    return bool(text) and not text.startswith("/") and not message.in_form


@dataclass(frozen=True)
class InboxFilter:
    """What staff narrowed the inbox to (empty: everything)."""

    reason: str = ""  # a key of REASON_CHOICES
    topic: str = ""
    since: Optional[date] = None
    until: Optional[date] = None
    search: str = ""


@dataclass
class InboxPage:
    groups: List[InboxGroup]
    page: int
    pages: int
    total_groups: int
    total_messages: int


def _candidates(project: Project, threshold: float, down: Set[int],
                filters: InboxFilter) -> List[Any]:
    """Index rows that need a look, newest first, narrowed by ``filters`` (indexed columns)."""
    item = inbox_index.InboxItemRow
    down_ids = sorted(down)
    needs_look = or_(item.intent.in_([FALLBACK_INTENT, OUT_OF_SCOPE]), item.confidence < threshold,
                     item.clarified == 1, item.event_id.in_(down_ids))
    query = select(item.event_id, item.sender_hash, item.at, item.text, item.text_key, item.intent,
                   item.topic, item.confidence, item.clarified).where(needs_look)
    reason = filters.reason
    if reason == "fallback":
        query = query.where(item.intent == FALLBACK_INTENT)
    elif reason == "out_of_scope":
        query = query.where(item.intent == OUT_OF_SCOPE)
    elif reason == "low":
        query = query.where(item.confidence < threshold, item.intent != FALLBACK_INTENT)
    elif reason == "clarify":
        query = query.where(item.clarified == 1)
    elif reason == "thumbs_down":
        query = query.where(item.event_id.in_(down_ids))
    if filters.topic:
        query = query.where(item.topic == filters.topic)
    if filters.since:
        query = query.where(item.at >= _day_start(filters.since))
    if filters.until:
        query = query.where(item.at < _day_start(filters.until) + 86400)
    if filters.search.strip():
        query = query.where(func.lower(item.text).contains(filters.search.strip().lower(),
                                                           autoescape=True))
    with session_scope(project.database_url) as session:
        return list(session.execute(query.order_by(item.event_id.desc()).limit(SCAN_LIMIT)).all())


def _day_start(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()


def _group(project: Project, rows: Sequence[Any]) -> List[List[Any]]:
    """Rows grouped by meaning (sentence vectors), or by shared words without the encoder."""
    if not rows:
        return []
    with session_scope(project.database_url) as session:
        item = inbox_index.InboxItemRow
        stored = dict(session.execute(select(item.event_id, item.vector).where(
            item.event_id.in_([r.event_id for r in rows]), item.vector.isnot(None))).all())
    vectors = inbox_index.vectors_for(project, [(r.event_id, r.text, stored.get(r.event_id))
                                                for r in rows])
    by_id = {r.event_id: r for r in rows}
    if vectors:
        similar = staff_setting("group_meaning_similarity", DEFAULT_MEANING_SIMILARITY)
        ids = inbox_index.group_by_meaning([r.event_id for r in rows], vectors, similar)
        return [[by_id[i] for i in group] for group in ids]
    similar = staff_setting("group_similarity", DEFAULT_GROUP_SIMILARITY)
    return [list(g.items) for g in grouping.group_similar(list(rows), lambda r: r.text, similar)]


def inbox_page(project: Project, user: Optional[User], filters: Optional[InboxFilter] = None,
               page: int = 1, per_page: int = 20, threshold: Optional[float] = None,
               include_labelled: bool = False, whole_groups: bool = False) -> InboxPage:
    """One page of the inbox: groups of messages alike in meaning, newest group first."""
    require(user, "read_inbox")
    filters = filters or InboxFilter()
    limit = threshold if threshold is not None else staff_setting("inbox_threshold",
                                                                  DEFAULT_INBOX_THRESHOLD)
    require_schema(project.database_url)
    inbox_index.refresh(project, _reviewable, text_key, encode_below=limit)
    down = _thumbs_down(project)
    by_event, by_text = _labels(project)
    rows = []
    labelled_as: Dict[int, str] = {}
    for row in _candidates(project, limit, down, filters):
        labelled = by_event.get(row.event_id)
        if labelled is None:
            earlier = by_text.get(row.text_key)
            if earlier and earlier[1].replace(tzinfo=timezone.utc).timestamp() >= row.at:
                labelled = earlier[0]
        if labelled and not include_labelled:
            continue
        if labelled:
            labelled_as[row.event_id] = topic_of(labelled)
        rows.append(row)
    groups = _group(project, rows)
    per_page = max(1, per_page)
    pages = max(1, -(-len(groups) // per_page))
    page = min(max(1, page), pages)
    shown = groups[(page - 1) * per_page: page * per_page]
    return InboxPage(
        groups=[InboxGroup([_message(r, limit, r.event_id in down, labelled_as.get(r.event_id))
                            for r in (group if whole_groups else group[:MAX_GROUP_SHOWN])],
                           size=len(group)) for group in shown],
        page=page, pages=pages, total_groups=len(groups), total_messages=len(rows))


def _message(row: Any, threshold: float, thumbs_down: bool, labelled: Optional[str]) -> InboxMessage:
    return InboxMessage(
        event_id=int(row.event_id), conversation="c-" + str(row.sender_hash)[:8],
        at=datetime.fromtimestamp(float(row.at), tz=timezone.utc), text=str(row.text),
        topic=str(row.topic), confidence=float(row.confidence),
        reasons=_reasons(str(row.intent), float(row.confidence), threshold, thumbs_down,
                         bool(row.clarified)),
        labelled_as=labelled)


def inbox_messages(project: Project, user: Optional[User], threshold: Optional[float] = None,
                   include_labelled: bool = False) -> List[InboxMessage]:
    """Every message that needs a look, newest first (no grouping)."""
    found = inbox_page(project, user, None, 1, SCAN_LIMIT, threshold, include_labelled,
                       whole_groups=True)
    return sorted((m for g in found.groups for m in g.messages), key=lambda m: -m.event_id)


def inbox(project: Project, user: Optional[User], threshold: Optional[float] = None,
          include_labelled: bool = False, limit: int = 100) -> List[InboxGroup]:
    """The inbox's first ``limit`` groups, the group with the newest message first."""
    return inbox_page(project, user, None, 1, limit, threshold, include_labelled).groups


def tracked(project: Project, event_ids: Iterable[int]) -> List[TrackedMessage]:
    """The tracker messages with these ids (for labelling); raise if one is unknown."""
    wanted = sorted({int(i) for i in event_ids})
    found = read_messages(project, limit=len(wanted) or 1, event_ids=wanted)
    missing = sorted(set(wanted) - {m.event_id for m in found})
    if missing:
        raise ValueError(f"No message with id {', '.join(map(str, missing))} in the conversation log.")
    return found
