"""How the assistant is doing, in counts only: the dashboard's charts and ``staff report``.

Every figure is a count or a duration, never a message, a name or a conversation id, so the
charts and their CSV files can be shared. Read from the tracker store (Rasa's ``events``), the
widget's feedback and the booking requests, for the last N days.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Dict, List, Optional, Tuple

from sqlalchemy import func, inspect, select

from bot.db import get_engine, session_scope
from bot.intents import FALLBACK_INTENT, OUT_OF_SCOPE
from bot.staff import inbox, inbox_index, topics
from bot.staff.project import Project
from bot.staff.users import User, require

PERIODS = (7, 30, 90)
TOP_TOPICS = 10
SLOWEST = 10
OUTCOME_ACTIONS = {"action_answer": "answered", "action_clarify": "clarified",
                   "action_out_of_scope": "out of scope", "action_crisis": "crisis"}
OUTCOMES = ("answered", "clarified", "out of scope", "crisis")
SINCE = re.compile(r"^\s*(\d{1,4})\s*d?\s*$")


@dataclass
class Chart:
    """One chart: its key (for the CSV), title, column names and rows of counts."""

    key: str
    title: str
    columns: Tuple[str, ...]
    rows: List[Tuple[str, ...]] = field(default_factory=list)
    kind: str = "bars"  # bars | days | stacked

    def csv(self) -> str:
        def cell(value: str) -> str:
            text = str(value)
            if text[:1] in ("=", "+", "-", "@"):  # never a formula in a spreadsheet
                text = "'" + text
            return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text

        lines = [",".join(cell(c) for c in self.columns)]
        lines += [",".join(cell(str(v)) for v in row) for row in self.rows]
        return "\n".join(lines) + "\n"

    def text(self) -> str:
        widths = [max(len(str(r[i])) for r in [self.columns, *self.rows]) for i in range(len(self.columns))]
        lines = [self.title, "  " + "  ".join(c.ljust(w) for c, w in zip(self.columns, widths))]
        lines += ["  " + "  ".join(str(v).ljust(w) for v, w in zip(row, widths)) for row in self.rows]
        if not self.rows:
            lines.append("  (nothing in this period)")
        return "\n".join(lines)


@dataclass
class Report:
    days: int
    since: datetime
    charts: List[Chart]

    def chart(self, key: str) -> Chart:
        for chart in self.charts:
            if chart.key == key:
                return chart
        raise KeyError(key)


def parse_since(text: str) -> int:
    """``30d`` or ``30`` -> 30 (days); a clear message otherwise."""
    match = SINCE.match(text or "")
    if not match or int(match.group(1)) < 1:
        raise ValueError(f"--since takes a number of days such as 7d, 30d or 90d, not {text!r}.")
    return int(match.group(1))


def report(project: Project, user: Optional[User], days: int = 30,
           now: Optional[datetime] = None) -> Report:
    require(user, "read_inbox")
    now = now or datetime.now(timezone.utc)
    since = now - timedelta(days=days)
    names = topics.topic_names(project)
    events = _tracker_rows(project, since.timestamp())
    asked = {c.id for c in topics.label_options(project)} - {OUT_OF_SCOPE}
    charts = [
        _per_day(events, since, now),
        _top_topics(events, names, asked),
        _outcomes(events),
        _thumbs(project, since, names),
        _bookings(project, since),
        _slowest(events, names),
    ]
    return Report(days, since, charts)


def _tracker_rows(project: Project, cutoff: float) -> List[Tuple[str, str, float, str, str]]:
    """(sender, type, timestamp, intent, action) of user, bot and action events since cutoff."""
    if not inbox.tracker_ready(project.tracker_url):
        return []
    engine = get_engine(project.tracker_url)
    inbox_index.ensure_tracker_indexes(engine)
    events = inbox.EVENTS
    with engine.connect() as connection:
        rows = connection.execute(
            select(events.c.sender_id, events.c.type_name, events.c.timestamp, events.c.intent_name,
                   events.c.action_name)
            .where(events.c.type_name.in_(["user", "bot", "action"]), events.c.timestamp >= cutoff)
            .order_by(events.c.id)).all()
    return [(str(r[0]), str(r[1]), float(r[2] or 0), str(r[3] or ""), str(r[4] or "")) for r in rows]


def _day(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d")


def _per_day(events: List[Tuple[str, str, float, str, str]], since: datetime, now: datetime) -> Chart:
    seen: Dict[str, set] = defaultdict(set)
    for sender, kind, at, _intent, _action in events:
        if kind == "user":
            seen[_day(at)].add(sender)
    chart = Chart("conversations", "Conversations per day", ("day", "conversations"), kind="days")
    day = since.date()
    while day <= now.date():
        chart.rows.append((day.isoformat(), str(len(seen.get(day.isoformat(), ())))))
        day += timedelta(days=1)
    return chart


def _top_topics(events: List[Tuple[str, str, float, str, str]], names: Dict[str, str],
                asked: set) -> Chart:
    counts: Counter = Counter()
    for _sender, kind, _at, intent, _action in events:
        if kind == "user" and intent and intent != FALLBACK_INTENT:
            topic = inbox.topic_of(intent)
            if topic in asked:
                counts[topic] += 1
    chart = Chart("topics", f"Top {TOP_TOPICS} topics asked about", ("topic", "messages"))
    chart.rows = [(names.get(t, t), str(n)) for t, n in counts.most_common(TOP_TOPICS)]
    return chart


def _outcomes(events: List[Tuple[str, str, float, str, str]]) -> Chart:
    counts: Counter = Counter()
    for _sender, kind, _at, _intent, action in events:
        if kind == "action" and action in OUTCOME_ACTIONS:
            counts[OUTCOME_ACTIONS[action]] += 1
    chart = Chart("outcomes", "How the assistant replied", ("reply", "replies"))
    chart.rows = [(name, str(counts[name])) for name in OUTCOMES]
    return chart


def _thumbs(project: Project, since: datetime, names: Dict[str, str]) -> Chart:
    chart = Chart("thumbs", "Thumbs up and down per topic", ("topic", "up", "down"), kind="stacked")
    try:
        from bot.schema import FeedbackRow
    except ModuleNotFoundError:
        return chart
    if not inspect(get_engine(project.database_url)).has_table(FeedbackRow.__tablename__):
        return chart
    with session_scope(project.database_url) as session:
        rows = session.execute(
            select(FeedbackRow.topic, FeedbackRow.value, func.count())
            .where(FeedbackRow.created_at >= since).group_by(FeedbackRow.topic, FeedbackRow.value)
        ).all()
    votes: Dict[str, Counter] = defaultdict(Counter)
    for topic, value, count in rows:
        votes[str(topic or "(no topic)")][str(value)] += int(count)
    ordered = sorted(votes.items(), key=lambda item: (-item[1]["down"], -item[1]["up"], item[0]))
    chart.rows = [(names.get(t, t), str(c["up"]), str(c["down"])) for t, c in ordered]
    return chart


def _bookings(project: Project, since: datetime) -> Chart:
    chart = Chart("bookings", "Booking requests made and handled", ("requests", "count"))
    try:
        from bot.booking.store import STATUS_NEW, BookingRequestRow
    except ModuleNotFoundError:
        return chart
    if not inspect(get_engine(project.database_url)).has_table(BookingRequestRow.__tablename__):
        chart.rows = [("made", "0"), ("handled", "0")]
        return chart
    with session_scope(project.database_url) as session:
        rows = session.execute(
            select(BookingRequestRow.status, func.count())
            .where(BookingRequestRow.created_at >= since).group_by(BookingRequestRow.status)).all()
    made = sum(int(count) for _status, count in rows)
    handled = sum(int(count) for status, count in rows if status != STATUS_NEW)
    chart.rows = [("made", str(made)), ("handled", str(handled))]
    return chart


def _slowest(events: List[Tuple[str, str, float, str, str]], names: Dict[str, str]) -> Chart:
    """The longest waits from a message to the assistant's first reply to it."""
    waiting: Dict[str, Tuple[float, str]] = {}
    waits: List[Tuple[float, float, str]] = []
    for sender, kind, at, intent, _action in events:
        if kind == "user":
            waiting[sender] = (at, intent)
        elif kind == "bot" and sender in waiting:
            asked, intent = waiting.pop(sender)
            waits.append((at - asked, asked, intent))
    waits.sort(reverse=True)
    chart = Chart("slowest", f"The {SLOWEST} slowest replies", ("when", "topic", "seconds"))
    chart.rows = [(datetime.fromtimestamp(asked, tz=timezone.utc).strftime("%Y-%m-%d %H:%M"),
                   names.get(inbox.topic_of(intent), "other") if intent else "other", f"{wait:.2f}")
                  for wait, asked, intent in waits[:SLOWEST]]
    return chart
