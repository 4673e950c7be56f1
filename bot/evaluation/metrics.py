"""Pure metric functions over (expected, predicted) pairs, easy to test."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Dict, Iterable, List, Sequence, Tuple

# Predictions that give an out-of-scope message the honest "I can only help with..." reply:
# outside a form, a bare yes/no/detail is answered by action_out_of_scope (data/rules.yml).
REJECTIONS = {"out_of_scope", "nlu_fallback", "affirm", "deny", "inform"}


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float
    support: int


def per_label_scores(pairs: Sequence[Tuple[str, str]]) -> Dict[str, Scores]:
    labels = sorted({expected for expected, _ in pairs})
    true_pos: Counter = Counter()
    predicted: Counter = Counter()
    support: Counter = Counter()
    for expected, guess in pairs:
        support[expected] += 1
        predicted[guess] += 1
        if expected == guess:
            true_pos[expected] += 1
    scores = {}
    for label in labels:
        precision = true_pos[label] / predicted[label] if predicted[label] else 0.0
        recall = true_pos[label] / support[label] if support[label] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[label] = Scores(precision, recall, f1, support[label])
    return scores


def accuracy(pairs: Sequence[Tuple[str, str]]) -> float:
    return sum(e == g for e, g in pairs) / len(pairs) if pairs else 0.0


def out_of_scope_false_accepts(pairs: Iterable[Tuple[str, str]]) -> Tuple[int, int]:
    """Out-of-scope messages that got anything but a rejection: (count, total)."""
    oos = [guess for expected, guess in pairs if expected == "out_of_scope"]
    return sum(g not in REJECTIONS for g in oos), len(oos)


def crisis_recall(pairs: Iterable[Tuple[str, str]]) -> Tuple[int, int]:
    crisis = [guess for expected, guess in pairs if expected == "crisis"]
    return sum(g == "crisis" for g in crisis), len(crisis)


def false_crisis(pairs: Iterable[Tuple[str, str]]) -> Tuple[int, int]:
    other = [guess for expected, guess in pairs if expected != "crisis"]
    return sum(g == "crisis" for g in other), len(other)


def percentile(values: List[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(fraction * (len(ordered) - 1)))))
    return ordered[index]


def normalise_prediction(expected: str, guess: str) -> str:
    """Count a fallback on an out-of-scope message as the right rejection."""
    if expected == "out_of_scope" and guess in REJECTIONS:
        return "out_of_scope"
    return guess
