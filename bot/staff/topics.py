"""Topics as staff see them: a human title and a one-line description, never a raw intent id.

Knowledge topics take both from the knowledge base (the title, and the answer's first
sentence); the few other labels staff may use come from ``config/staff_labels.yml``.
Everything else in the domain is internal and never offered.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

import yaml

from bot.knowledge.store import load_topics_file
from bot.settings import PROJECT_ROOT
from bot.staff.project import Project

LABELS_FILE = PROJECT_ROOT / "config" / "staff_labels.yml"
DESCRIPTION_CHARS = 110
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“(])")
ID_STOP_WORDS = frozenset("""a an the and or of to in on for with about is are do does did can
could should would will my i me your you it its this that what whats how why when which who
there be been""".split())
MAX_ID_WORDS = 5


@dataclass(frozen=True)
class TopicChoice:
    id: str
    title: str
    description: str


ABBREVIATIONS = frozenset({"dr", "mr", "mrs", "ms", "st", "e.g", "i.e", "vs", "etc", "no", "prof"})


def split_sentences(text: str) -> List[str]:
    """Sentences of a paragraph; "Dr. Cook" or "e.g. kefir" do not end one."""
    text = " ".join(text.split())
    found, start = [], 0
    for match in SENTENCE_END.finditer(text):
        words = text[start:match.start()].split()
        if words and words[-1].rstrip(".").lower() in ABBREVIATIONS:
            continue
        found.append(text[start:match.start()])
        start = match.end()
    found.append(text[start:])
    return [s for s in found if s]


def _first_sentence(text: str) -> str:
    sentence = (split_sentences(text) or [""])[0]
    if len(sentence) <= DESCRIPTION_CHARS:
        return sentence
    return sentence[:DESCRIPTION_CHARS].rsplit(" ", 1)[0] + "…"


def _extra_labels(path: Path = LABELS_FILE) -> List[TopicChoice]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [TopicChoice(str(e["id"]), str(e["title"]), str(e["description"]))
            for e in data.get("labels") or []]


def label_options(project: Project) -> List[TopicChoice]:
    """Every label staff may choose, knowledge topics first (in the knowledge base's order)."""
    topics = [TopicChoice(t.id, t.title, _first_sentence(t.answer))
              for t in load_topics_file(project.topics_file, project.article_file)]
    known = {t.id for t in topics}
    return topics + [c for c in _extra_labels() if c.id not in known]


def topic_names(project: Project) -> Dict[str, str]:
    """Topic id -> title, for every id staff might see (the assistant's guesses included)."""
    names = {c.id: c.title for c in label_options(project)}
    names.setdefault("crisis", "Crisis (safety net)")
    names.setdefault("help", "Asked what the assistant can do")
    names.setdefault("greet", "Greeting")
    return names


def topic_id_from_title(title: str) -> str:
    """A lower_snake_case id from a question: "Does kombucha help with anxiety?" ->
    ``kombucha_help_anxiety``."""
    text = unicodedata.normalize("NFKD", title)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower().replace("'", "")
    words = re.findall(r"[a-z0-9]+", text)
    content = [w for w in words if w not in ID_STOP_WORDS] or words
    slug = "_".join(content[:MAX_ID_WORDS])
    if not slug or not slug[0].isalpha():
        slug = "topic_" + slug
    return slug[:60].rstrip("_")


@dataclass(frozen=True)
class ArticleSection:
    heading: str
    sentences: List[str]


def article_sections(project: Project) -> List[ArticleSection]:
    """The article as headings and the sentences under each, for picking a verbatim quote."""
    sections: List[ArticleSection] = []
    heading = "Introduction"
    sentences: List[str] = []
    for line in project.article_file.read_text(encoding="utf-8").splitlines():
        text = " ".join(line.replace("•", " ").split())
        if not text:
            continue
        if text.lower().startswith("works cited"):
            break
        if text[-1] not in ".!?\"”)" or len(text) < 40 and " " not in text[:-1]:
            if sentences:
                sections.append(ArticleSection(heading, sentences))
            heading, sentences = text, []
            continue
        sentences += [s for s in split_sentences(text) if len(s) > 20]
    if sentences:
        sections.append(ArticleSection(heading, sentences))
    return sections
