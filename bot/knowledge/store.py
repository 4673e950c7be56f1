"""Knowledge topics in SQL: read from the staff-editable YAML, served to the actions.

The YAML file is the source staff edit; ``sync_topics`` copies it into the database the
actions read from, refusing any quote that is not verbatim in the article.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import yaml
from sqlalchemy import delete, select

from bot.db import session_scope
from bot.schema import KnowledgeQuoteRow, KnowledgeTopicRow, require

logger = logging.getLogger(__name__)

KNOWLEDGE_DIR = Path(__file__).resolve().parent
TOPICS_FILE = KNOWLEDGE_DIR / "topics.yml"
ARTICLE_FILE = KNOWLEDGE_DIR / "source" / "gut-brain-axis-article.txt"
TOPIC_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,47}$")
CACHE_SECONDS = 30.0
TABLES = (KnowledgeTopicRow.__tablename__, KnowledgeQuoteRow.__tablename__)


@dataclass(frozen=True)
class Topic:
    """One knowledge topic as the actions use it."""

    id: str
    title: str
    answer: str
    quotes: Tuple[str, ...]
    follow_ups: Tuple[str, ...] = ()
    section: str = ""


class KnowledgeError(ValueError):
    """The knowledge file is not usable; the message says what to fix."""


def normalise_whitespace(text: str) -> str:
    """Collapse runs of whitespace so quotes compare independent of line breaks."""
    return " ".join(text.split())


def read_article(path: Path = ARTICLE_FILE) -> str:
    return path.read_text(encoding="utf-8")


def quote_is_verbatim(quote: str, article_text: str) -> bool:
    return normalise_whitespace(quote) in normalise_whitespace(article_text)


def parse_topics(data: object, article_text: str) -> List[Topic]:
    """Validate the YAML structure and return the topics, or raise KnowledgeError."""
    if not isinstance(data, dict) or not isinstance(data.get("topics"), list):
        raise KnowledgeError("The knowledge file needs a top-level 'topics:' list.")
    topics: List[Topic] = []
    seen: set = set()
    for number, item in enumerate(data["topics"], start=1):
        if not isinstance(item, dict):
            raise KnowledgeError(f"Topic #{number} is not a mapping.")
        topic_id = str(item.get("id", ""))
        where = f"Topic '{topic_id or number}'"
        if not TOPIC_ID_PATTERN.match(topic_id):
            raise KnowledgeError(f"{where}: id must be lower_snake_case (a-z, 0-9, _).")
        if topic_id in seen:
            raise KnowledgeError(f"{where}: the id is used twice.")
        seen.add(topic_id)
        for key in ("title", "answer"):
            if not str(item.get(key) or "").strip():
                raise KnowledgeError(f"{where}: '{key}' is empty.")
        quotes = [str(q) for q in item.get("quotes") or []]
        if not quotes:
            raise KnowledgeError(f"{where}: needs at least one supporting quote.")
        for quote in quotes:
            if not quote_is_verbatim(quote, article_text):
                raise KnowledgeError(
                    f"{where}: this quote is not word for word in the article: {quote[:80]!r}"
                )
        topics.append(
            Topic(
                id=topic_id,
                title=str(item["title"]).strip(),
                answer=normalise_whitespace(str(item["answer"])),
                quotes=tuple(normalise_whitespace(q) for q in quotes),
                follow_ups=tuple(str(f) for f in item.get("follow_ups") or []),
                section=str(item.get("section") or ""),
            )
        )
    known = {t.id for t in topics}
    for topic in topics:
        unknown = [f for f in topic.follow_ups if f not in known]
        if unknown:
            raise KnowledgeError(f"Topic '{topic.id}': unknown follow-up topics {unknown}.")
    return topics


def load_topics_file(path: Path = TOPICS_FILE, article_path: Path = ARTICLE_FILE) -> List[Topic]:
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return parse_topics(data, read_article(article_path))


def sync_topics(topics: Sequence[Topic], url: Optional[str] = None) -> int:
    """Make the database hold exactly ``topics``; returns how many were written.

    The tables are the migrations' (``bot.schema.SchemaNotReady`` when they are missing)."""
    require(url, TABLES)
    now = datetime.now(timezone.utc)
    with session_scope(url) as session:
        session.execute(delete(KnowledgeQuoteRow))
        session.execute(delete(KnowledgeTopicRow))
        for position, topic in enumerate(topics):
            row = KnowledgeTopicRow(
                id=topic.id,
                position=position,
                title=topic.title,
                section=topic.section,
                answer=topic.answer,
                follow_ups=json.dumps(list(topic.follow_ups)),
                updated_at=now,
            )
            row.quotes = [
                KnowledgeQuoteRow(position=index, text=text)
                for index, text in enumerate(topic.quotes)
            ]
            session.add(row)
    _cache.clear()
    logger.info("knowledge base synced: %d topics", len(topics))
    return len(topics)


@dataclass
class _Cache:
    loaded_at: float = 0.0
    topics: Dict[str, Topic] = field(default_factory=dict)

    def clear(self) -> None:
        self.loaded_at = 0.0
        self.topics = {}


_cache = _Cache()


def _row_to_topic(row: KnowledgeTopicRow) -> Topic:
    return Topic(
        id=row.id,
        title=row.title,
        answer=row.answer,
        quotes=tuple(q.text for q in row.quotes),
        follow_ups=tuple(json.loads(row.follow_ups or "[]")),
        section=row.section or "",
    )


def all_topics(url: Optional[str] = None) -> Dict[str, Topic]:
    """Every topic in the database, cached for a few seconds so staff edits show up soon."""
    if _cache.topics and time.monotonic() - _cache.loaded_at < CACHE_SECONDS:
        return _cache.topics
    with session_scope(url) as session:
        rows = session.execute(
            select(KnowledgeTopicRow).order_by(KnowledgeTopicRow.position)
        ).scalars()
        topics = {row.id: _row_to_topic(row) for row in rows}
    _cache.topics = topics
    _cache.loaded_at = time.monotonic()
    return topics
