"""The figures `make eval` prints are computed correctly."""

from __future__ import annotations

import pytest

from bot.evaluation import metrics


def test_per_label_scores() -> None:
    pairs = [("a", "a"), ("a", "b"), ("b", "b"), ("b", "b")]
    scores = metrics.per_label_scores(pairs)
    assert scores["a"].precision == 1.0 and scores["a"].recall == 0.5
    assert scores["b"].precision == pytest.approx(2 / 3) and scores["b"].recall == 1.0


def test_fallback_on_out_of_scope_is_a_correct_rejection() -> None:
    pairs = [("out_of_scope", metrics.normalise_prediction("out_of_scope", "nlu_fallback")),
             ("out_of_scope", "scfa")]
    assert metrics.out_of_scope_false_accepts(pairs) == (1, 2)


def test_crisis_recall_and_false_crisis() -> None:
    pairs = [("crisis", "crisis"), ("crisis", "ibs"), ("ibs", "crisis"), ("ibs", "ibs")]
    assert metrics.crisis_recall(pairs) == (1, 2)
    assert metrics.false_crisis(pairs) == (1, 2)


def test_percentile() -> None:
    values = [float(v) for v in range(1, 101)]
    assert metrics.percentile(values, 0.95) == 95.0
    assert metrics.percentile(values, 0.5) == 51.0
