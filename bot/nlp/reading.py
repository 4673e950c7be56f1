"""How a message is read: sentences, the question among them, and follow-up cues.

A visitor often writes a story and then the question ("I've had a rough year... anyway, do
probiotics help?"). The story gives context, the question decides the topic, and any sentence
can raise a crisis. Follow-ups ("which strains?", "and for depression?") only make sense with
the previous question: the cues that mark one live in ``follow_ups.yml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

FOLLOW_UPS_PATH = Path(__file__).with_name("follow_ups.yml")

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
# A full stop after one of these ends an abbreviation, not a sentence ("L. rhamnosus", "Dr. Cook").
_ABBREVIATION = re.compile(r"(?:^|\s)(?:[A-Za-z]|dr|mr|mrs|ms|st|vs|e\.g|i\.e|etc|approx)\.$",
                           re.IGNORECASE)
# Where a sentence divides into clauses: a risk is often one clause of a longer sentence
# ("honestly I don't want to be alive anymore, but which strain was it?").
_CLAUSE_BREAK = re.compile(
    r"\s*[,;:()\u2013\u2014]\s*|\s+-\s+|\s+(?:and|but|so|because|cause|bc|although|though)\s+",
    re.IGNORECASE)
MIN_CLAUSE_WORDS = 3
MAX_SENTENCE_WORDS = 60
_WORD = re.compile(r"[a-z']+")
QUESTION_WORDS = ("what", "how", "why", "which", "when", "where", "who", "is", "are", "do",
                  "does", "did", "can", "could", "should", "would", "will", "any")


def sentences(text: str) -> list[str]:
    """The text's sentences, all of them (a long story is read to its end), none longer than
    ``MAX_SENTENCE_WORDS`` words."""
    parts: list[str] = []
    for piece in (p.strip() for p in _SENTENCE_END.split(text)):
        if not piece:
            continue
        if parts and _ABBREVIATION.search(parts[-1]):
            parts[-1] = f"{parts[-1]} {piece}"
        else:
            parts.append(piece)
    return [chunk for part in parts for chunk in _bounded(part)]


def _bounded(sentence: str) -> list[str]:
    """A sentence of more than ``MAX_SENTENCE_WORDS`` words in pieces of that many: text with
    no full stops (a pasted list, a stream of thought) is still read piece by piece."""
    tokens = sentence.split()
    if len(tokens) <= MAX_SENTENCE_WORDS:
        return [sentence]
    return [" ".join(tokens[i:i + MAX_SENTENCE_WORDS])
            for i in range(0, len(tokens), MAX_SENTENCE_WORDS)]


def clauses(sentence: str) -> list[str]:
    """The sentence's clauses of at least ``MIN_CLAUSE_WORDS`` words, when it has two or more."""
    pieces = [c.strip() for c in _CLAUSE_BREAK.split(sentence) if c and c.strip()]
    pieces = [c for c in pieces if len(words(c)) >= MIN_CLAUSE_WORDS]
    return pieces if len(pieces) > 1 else []


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def is_question(sentence: str) -> bool:
    first = words(sentence)[:1]
    return sentence.rstrip().endswith("?") or bool(first and first[0] in QUESTION_WORDS)


def question_sentence(parts: list[str]) -> str | None:
    """The last sentence that asks something, or ``None`` if none does."""
    for sentence in reversed(parts):
        if is_question(sentence):
            return sentence
    return None


@dataclass(frozen=True)
class FollowUpCues:
    generic: tuple[str, ...]
    cue_words: frozenset[str]
    cue_starts: tuple[str, ...]

    def has_cue(self, text: str) -> bool:
        tokens = words(text)
        joined = " ".join(tokens)
        return bool(set(tokens) & self.cue_words) or any(
            joined == start or joined.startswith(start + " ") for start in self.cue_starts)


@lru_cache(maxsize=4)
def load_cues(path: Path = FOLLOW_UPS_PATH) -> FollowUpCues:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return FollowUpCues(
        generic=tuple(str(g) for g in data.get("generic") or []),
        cue_words=frozenset(str(w).lower() for w in data.get("cue_words") or []),
        cue_starts=tuple(str(s).lower() for s in data.get("cue_starts") or []),
    )
