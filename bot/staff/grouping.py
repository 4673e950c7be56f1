"""Group similar messages so staff label a question once, not once per person who asked it.

Two messages are similar when their normalised texts are equal or their content words
overlap enough (Jaccard similarity of the word sets, stop words aside).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable, FrozenSet, Generic, List, Sequence, TypeVar

T = TypeVar("T")

STOP_WORDS = frozenset(
    """a an the and or but if of to in on at for with about from by is are was were be been
    am do does did i me my you your it its this that these those what whats how why when
    can could would should will there their they them we our us so just really any some
    please pls hi hello hey thanks thank ok okay""".split()
)
WORD = re.compile(r"[a-z0-9]+")


def normalise(text: str) -> str:
    """Lower case, accents and punctuation removed, whitespace collapsed."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.replace("'", "").replace("’", "")
    return " ".join(WORD.findall(text))


def content_words(text: str) -> FrozenSet[str]:
    words = normalise(text).split()
    content = [w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words if w not in STOP_WORDS]
    return frozenset(content or words)


def similarity(first: str, second: str) -> float:
    """1.0 for the same normalised text, else the overlap of content words (0..1)."""
    if normalise(first) == normalise(second):
        return 1.0
    a, b = content_words(first), content_words(second)
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


@dataclass
class Group(Generic[T]):
    """Similar items; the first (newest) one represents the group."""

    items: List[T] = field(default_factory=list)

    @property
    def representative(self) -> T:
        return self.items[0]


def group_similar(
    items: Sequence[T], text_of: Callable[[T], str], threshold: float = 0.5
) -> List[Group[T]]:
    """Greedy grouping in the order given (newest first): each item joins the first group
    whose representative is similar enough, or starts a new one."""
    groups: List[Group[T]] = []
    for item in items:
        text = text_of(item)
        for group in groups:
            if similarity(text, text_of(group.representative)) >= threshold:
                group.items.append(item)
                break
        else:
            groups.append(Group([item]))
    return groups
