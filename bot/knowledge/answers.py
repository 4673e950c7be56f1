"""Build the reply for a knowledge topic: answer text, source line, buttons, citations.

The shape follows ../shared/reply-contract.md: the first ``custom`` object names the topic
and carries citations (a verbatim article quote and the paper); :class:`bot.reply.Reply`
carries it to the channels, which lay it out.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from bot.knowledge.store import Topic
from bot.messages import message
from bot.reply import Reply
from bot.settings import Settings, get_settings

BOOKING_PAYLOAD = "/book_appointment"


def topic_payload(topic_id: str) -> str:
    """The button payload that asks about a topic (an intent with no entities)."""
    return f"/{topic_id}"


def article_citation(quote: str, settings: Settings) -> Dict[str, Any]:
    """One article citation per supporting quote, so each quote is verbatim on its own."""
    article = settings.article
    return {
        "kind": "article",
        "title": article["title"],
        "publisher": article["publisher"],
        "date": str(article["date"]),
        "url": article["url"],
        "quote": quote,
    }


def paper_citation(settings: Settings) -> Dict[str, Any]:
    paper = settings.paper
    return {
        "kind": "paper",
        "authors": paper["authors"],
        "year": int(paper["year"]),
        "title": " ".join(str(paper["title"]).split()),
        "journal": paper["journal"],
        "doi": paper["doi"],
        "url": paper["url"],
    }


def citations(topic: Topic, settings: Optional[Settings] = None) -> List[Dict[str, Any]]:
    settings = settings or get_settings()
    return [article_citation(q, settings) for q in topic.quotes] + [paper_citation(settings)]


def follow_up_buttons(
    topic: Topic, topics: Mapping[str, Topic], settings: Optional[Settings] = None
) -> List[Dict[str, str]]:
    """Buttons for the topic's follow-up questions, then booking."""
    buttons = [
        {"title": topics[f].title, "payload": topic_payload(f)}
        for f in topic.follow_ups
        if f in topics
    ]
    buttons.append({"title": message("buttons.book", settings), "payload": BOOKING_PAYLOAD})
    return buttons


def build_answer(
    topic: Topic, topics: Mapping[str, Topic], settings: Optional[Settings] = None
) -> Reply:
    """One answer: the text, its short source line, follow-up buttons and citations."""
    settings = settings or get_settings()
    return Reply.of(
        topic.id, topic.answer,
        source=message("source_line", settings),
        citations=citations(topic, settings),
        buttons=follow_up_buttons(topic, topics, settings),
    )
