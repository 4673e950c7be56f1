"""The training data agrees with the crisis safety net.

A crisis message filed under another intent teaches the classifier that "I bought a rope" is a
request for personal advice. The deterministic matcher still catches it, but the classifier is
the only net for the wording the matcher does not know, so the labels must be right.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import pytest
from spacy.language import Language

from bot.evaluation.holdout import TRAINING_DIR, read_nlu_examples
from bot.nlp.pipeline import build_pipeline


def training_examples() -> List[Tuple[str, str, Path]]:
    return [
        (text, intent, path)
        for path in sorted(TRAINING_DIR.rglob("*.yml"))
        for text, intent in read_nlu_examples(path)
    ]


@pytest.fixture(scope="module")
def nlp() -> Language:
    return build_pipeline()


def test_no_example_the_crisis_matcher_flags_is_filed_under_another_intent(nlp: Language) -> None:
    misfiled = [
        f"{path.name}: {intent}: {text}"
        for text, intent, path in training_examples()
        if intent != "crisis" and nlp(text)._.crisis
    ]
    assert misfiled == []


def test_each_example_is_under_one_intent_only() -> None:
    seen: dict = {}
    clashes = []
    for text, intent, _ in training_examples():
        key = text.lower()
        if seen.setdefault(key, intent) != intent:
            clashes.append((text, seen[key], intent))
    assert clashes == []
