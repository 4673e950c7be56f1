"""The words that make a message *about* an intent: the lexical half of the scope gate.

The classifier (DIET) always picks some intent, and it is often confident about messages that
share no word with anything it was taught ("how long do I boil an egg" → ``diet``). The scope
gate (bot/rasa_components/scope_gate.py) asks a second, simpler question: does the message
contain at least one word that is *evidence* for the intent it was given?

An intent's evidence words are learnt from the training data alone, so a topic that staff add
gets its own words at the next training:

* the lower-cased words and lemmas of its training examples, minus stop words and tokens
  without letters;
* minus words that are at least as typical of the out-of-scope examples as of the intent's
  own (``min_ratio``): "tell", "recipe", "weather" say nothing about a topic.

For the intents the caller marks as *topical* (not small talk, which is all everyday words),
the evidence words that are common in everyday English ("try", "long", "stress",
"depression", "diet": more common than ``weak_word_logprob`` in spacy-lookups-data's word
probabilities) are *weak*: a message whose only evidence is one of them ("how do I stress
test my PC") is not much of a link to the topic, and the gate asks the classifier to be surer
about it.

A message matches a word exactly, through its lemma, or with one typo (two for words of eight
letters or more), found through a deletion index so that no edit distance is computed.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from spacy.lang.en.stop_words import STOP_WORDS

MIN_FUZZY_LENGTH = 5
TWO_TYPO_LENGTH = 8
MAX_FUZZY_LENGTH = 30  # longer "words" (a pasted URL, 20,000 x's) are matched exactly only
MAX_TOKENS = 300  # words of a message looked at: evidence is found early or not at all
UNKNOWN_LOGPROB = -20.0


def normalise(word: str) -> str:
    """The form words are compared in: lower case, straight apostrophes, no edge punctuation."""
    return word.lower().replace("\u2019", "'").strip(".,!?;:'\"()[]{}")


def is_content_word(word: str) -> bool:
    """A word that can carry meaning: has a letter, is not a stop word, not a clitic."""
    return (
        len(word) >= 2
        and any(ch.isalpha() for ch in word)
        and word not in STOP_WORDS
        and not word.startswith("'")
    )


def _content_forms(forms: Sequence[str]) -> tuple[str, ...]:
    """A token's content forms, normalised: (surface, lemma), (surface,) or () for none.

    A stop word is skipped ("does", which the lookup lemmatizer turns into "doe"); a lemma
    that is a stop word is dropped ("ai" becomes "have"), keeping the surface form.
    """
    if not forms:
        return ()
    surface, lemma = normalise(forms[0]), normalise(forms[-1])
    if not is_content_word(surface):
        return ()
    if lemma == surface or not is_content_word(lemma):
        return (surface,)
    return surface, lemma


def _deletions(word: str, depth: int) -> set[str]:
    """Every string made by deleting up to ``depth`` characters from ``word``."""
    found = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1:] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


def _typo_depth(word: str) -> int:
    if len(word) > MAX_FUZZY_LENGTH:
        return 0
    if len(word) >= TWO_TYPO_LENGTH:
        return 2
    return 1 if len(word) >= MIN_FUZZY_LENGTH else 0


@lru_cache(maxsize=1)
def common_word_logprobs() -> Mapping[str, float]:
    """English word log-probabilities shipped with spacy-lookups-data (a million words)."""
    import spacy_lookups_data

    path = Path(spacy_lookups_data.__file__).parent / "data" / "en_lexeme_prob.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        data: dict[str, float] = json.load(handle)
    return data


@dataclass
class IntentWords:
    """One intent's evidence words, the weak ones among them, and a typo index over them."""

    words: frozenset[str]
    weak: frozenset[str] = frozenset()
    _index: dict[str, set[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for word in self.words:
            for variant in _deletions(word, _typo_depth(word)):
                self._index.setdefault(variant, set()).add(word)

    def match(self, forms: Sequence[str]) -> str | None:
        """The evidence word that one of a token's forms (text, lemma) matches, if any."""
        for form in forms:
            if form in self.words:
                return form
        for form in forms:
            depth = _typo_depth(form)
            if not depth:
                continue
            for variant in _deletions(form, depth):
                for word in sorted(self._index.get(variant, ())):
                    if _typo_depth(word) and _within_typos(form, word):
                        return word
        return None


def _within_typos(typed: str, word: str) -> bool:
    """Whether ``typed`` is ``word`` with at most its allowed number of edits (Damerau)."""
    limit = min(_typo_depth(typed), _typo_depth(word))
    if abs(len(typed) - len(word)) > limit:
        return False
    previous2: list[int] = []
    previous = list(range(len(word) + 1))
    for i, a in enumerate(typed, 1):
        current = [i] + [0] * len(word)
        for j, b in enumerate(word, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b))
            if i > 1 and j > 1 and a == word[j - 2] and typed[i - 2] == b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1] <= limit


@dataclass
class ScopeLexicon:
    """Evidence words per intent; intents absent from it are not gated."""

    evidence: dict[str, IntentWords]

    def gated(self, intent: str | None) -> bool:
        return intent is not None and intent in self.evidence

    def evidence_in(self, intent: str, tokens: Iterable[Sequence[str]]) -> list[str]:
        """The intent's evidence words found in a message (each token as its forms)."""
        words = self.evidence.get(intent)
        if words is None:
            return []
        found = []
        for forms in islice(tokens, MAX_TOKENS):
            content = _content_forms(forms)
            hit = words.match(content) if content else None
            if hit:
                found.append(hit)
        return found

    @staticmethod
    def has_content(tokens: Iterable[Sequence[str]]) -> bool:
        """Whether a message has any content word at all ("what can you do" has none)."""
        return any(_content_forms(forms) for forms in islice(tokens, MAX_TOKENS))

    def is_weak(self, intent: str, evidence: Sequence[str]) -> bool:
        """Whether the only evidence is one everyday word ("depression", "stress", "diet")."""
        words = self.evidence.get(intent)
        distinct = set(evidence)
        return words is not None and len(distinct) == 1 and distinct <= words.weak

    def to_dict(self) -> dict[str, dict[str, list[str]]]:
        return {
            intent: {"words": sorted(words.words), "weak": sorted(words.weak)}
            for intent, words in sorted(self.evidence.items())
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScopeLexicon:
        """Read ``to_dict``'s form; a bare list of words (no weak ones) is read too."""
        evidence = {}
        for intent, entry in data.items():
            if isinstance(entry, Mapping):
                words, weak = entry.get("words") or (), entry.get("weak") or ()
            else:
                words, weak = entry or (), ()
            evidence[intent] = IntentWords(frozenset(map(str, words)), frozenset(map(str, weak)))
        return cls(evidence)


def build_lexicon(
    examples: Iterable[tuple[str, Sequence[Sequence[str]]]],
    out_of_scope_intent: str,
    exempt: Iterable[str],
    topical: Iterable[str] | None = None,
    min_ratio: float = 2.0,
    weak_word_logprob: float = -11.0,
    logprobs: Mapping[str, float] | None = None,
) -> ScopeLexicon:
    """Learn each gated intent's evidence words from ``(intent, tokens)`` training examples.

    Each token is given as its forms (surface text, lemma); both forms of a token can become
    evidence, a surface form only when its lemma does. ``exempt`` intents are not gated
    (the out-of-scope intent never is). A word stays evidence for an intent when the share of
    that intent's examples containing it is at least ``min_ratio`` times the share of
    out-of-scope examples containing it. A ``topical`` intent's (None: every gated intent's)
    evidence words more common in English than ``weak_word_logprob`` are its *weak* words.
    """
    skip = set(exempt) | {out_of_scope_intent}
    doc_freq: dict[str, Counter] = defaultdict(Counter)
    families: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    sizes: Counter = Counter()
    for intent, tokens in examples:
        sizes[intent] += 1
        pairs = [pair for pair in (_content_forms(forms) for forms in tokens) if pair]
        doc_freq[intent].update({form for pair in pairs for form in pair})
        families[intent].update(pairs)
    oos = doc_freq.get(out_of_scope_intent, Counter())
    oos_size = max(1, sizes[out_of_scope_intent])
    probs = logprobs if logprobs is not None else common_word_logprobs()
    topical_set = None if topical is None else set(topical)
    evidence = {}
    for intent, counts in doc_freq.items():
        if intent in skip:
            continue
        passing = {
            word
            for word, count in counts.items()
            if count / sizes[intent] >= min_ratio * oos[word] / oos_size
        }
        # A surface form is evidence only if its lemma is too ("wrote" falls with "write").
        words = frozenset(
            form for family in families[intent] if family[-1] in passing for form in family
            if form in passing
        )
        everyday = topical_set is not None and intent not in topical_set
        weak = frozenset() if everyday else frozenset(
            word for word in words if probs.get(word, UNKNOWN_LOGPROB) > weak_word_logprob
        )
        evidence[intent] = IntentWords(words, weak)
    return ScopeLexicon(evidence)
