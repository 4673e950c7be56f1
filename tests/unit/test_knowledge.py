"""The knowledge base covers the catalogue, quotes the article verbatim and claims no cure."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.knowledge import store
from bot.knowledge.answers import build_answer
from bot.knowledge.rules import RULES_FILE, render_rules

SHARED = Path(__file__).resolve().parents[3] / "shared"
KNOWLEDGE_IDS = [
    "gut_brain_axis", "mental_gut_link", "microbiome_facts", "neurotransmitters", "scfa",
    "inflammation_leaky_gut", "probiotic_strains", "probiotic_evidence", "stress_harms_gut",
    "gut_drives_stress", "ibs", "diet", "prebiotics", "fmt", "combined_treatment",
    "psychobiotics", "professional_guidance", "sources", "about_clinic",
]
CURE_CLAIMS = re.compile(
    r"\b(cure[sd]?|curing|guarantee[sd]?|miracle|eliminates?|heals?|proven to (treat|work)"
    r"|will (fix|end|stop) your)\b",
    re.IGNORECASE,
)


def test_every_catalogue_topic_has_an_entry() -> None:
    ids = [t.id for t in store.load_topics_file()]
    assert sorted(ids) == sorted(KNOWLEDGE_IDS)


@pytest.mark.skipif(not (SHARED / "faq-topics.md").exists(), reason="../shared not beside the repo")
def test_catalogue_ids_match_shared_faq_topics() -> None:
    text = (SHARED / "faq-topics.md").read_text(encoding="utf-8")
    knowledge_part = text.split("## Clinic topics")[0].split("## Routing topics")[0]
    listed = re.findall(r"^\| `([a-z_]+)` \|", knowledge_part, flags=re.MULTILINE)
    assert sorted(listed) == sorted(KNOWLEDGE_IDS)


@pytest.mark.skipif(not (SHARED / "faq-topics.md").exists(), reason="../shared not beside the repo")
def test_clinic_topics_match_shared_faq_topics() -> None:
    from bot.frontdesk.answers import CLINIC_TOPICS

    text = (SHARED / "faq-topics.md").read_text(encoding="utf-8")
    clinic_part = text.split("## Clinic topics")[1].split("## Routing topics")[0]
    listed = re.findall(r"^\| `([a-z_]+)` \|", clinic_part, flags=re.MULTILINE)
    assert sorted(listed) == sorted(CLINIC_TOPICS)


@pytest.mark.skipif(not (SHARED / "source").exists(), reason="../shared not beside the repo")
def test_packaged_article_is_the_published_one() -> None:
    shared = (SHARED / "source" / "gut-brain-axis-article.txt").read_text(encoding="utf-8")
    assert store.read_article() == shared


def test_every_quote_is_verbatim_in_the_article() -> None:
    article = store.normalise_whitespace(store.read_article())
    for topic in store.load_topics_file():
        for quote in topic.quotes:
            assert quote in article, f"{topic.id}: {quote!r}"


def test_a_changed_quote_is_refused_with_a_clear_message() -> None:
    data = yaml.safe_load(store.TOPICS_FILE.read_text(encoding="utf-8"))
    data["topics"][0]["quotes"] = ["Probiotics cure depression in every patient."]
    with pytest.raises(store.KnowledgeError, match="not word for word"):
        store.parse_topics(data, store.read_article())


def test_no_answer_claims_a_cure() -> None:
    for topic in store.load_topics_file():
        assert not CURE_CLAIMS.search(topic.answer), topic.id


def test_rules_file_is_generated_from_the_topics() -> None:
    ids = [t.id for t in store.load_topics_file()]
    assert RULES_FILE.read_text(encoding="utf-8") == render_rules(ids)


def test_answer_follows_the_reply_contract(kb_url: str) -> None:
    topics = store.all_topics()
    reply = build_answer(topics["scfa"], topics)
    custom = reply.payload()
    assert custom["topic"] == "scfa"
    kinds = {c["kind"] for c in custom["citations"]}
    assert kinds == {"article", "paper"}
    article = next(c for c in custom["citations"] if c["kind"] == "article")
    assert "butyrate" in article["quote"]
    assert article["date"] == "2025-11-24"
    paper = next(c for c in custom["citations"] if c["kind"] == "paper")
    assert paper["doi"] == "10.3390/nu14102081"
    assert "Source:" in reply.text
    assert any(b["payload"] == "/book_appointment" for b in reply.buttons)


def test_database_holds_what_the_file_says(kb_url: str) -> None:
    from_file = {t.id: t for t in store.load_topics_file()}
    from_db = store.all_topics()
    assert from_db.keys() == from_file.keys()
    assert from_db["fmt"].quotes == from_file["fmt"].quotes
