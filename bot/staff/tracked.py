"""User messages read from Rasa's tracker store (table ``events``), with their context.

The inbox (``inbox.py``) and its index (``inbox_index.py``) both read conversations through
this module; the messages stay unmasked inside the staff core (``TrackedMessage.masked``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from sqlalchemy import inspect, select
from sqlalchemy.engine.url import make_url

from bot.booking import CONTACT, FORM, NAME
from bot.db import get_engine
from bot.schema import TRACKER_EVENTS
from bot.intents import BOOK_APPOINTMENT, BOOKING_TOPIC, FALLBACK_INTENT
from bot.staff import masking
from bot.staff.project import Project

BOOKING_FORM = FORM
# Slots whose values say who the person is: masked wherever they appear in that conversation.
IDENTITY_SLOTS = (NAME, CONTACT)
SCAN_LIMIT = 5000

# Rasa's SQLTrackerStore table (bot/schema.py describes it; Rasa creates it).
EVENTS = TRACKER_EVENTS


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


def tracker_ready(url: str) -> bool:
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
    if not tracker_ready(project.tracker_url):
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
        if row.type_name == "slot" and data.get("name") in IDENTITY_SLOTS and data.get("value"):
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
