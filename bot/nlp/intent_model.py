"""Intents from sentence vectors: a logistic regression and the nearest training examples.

Trained on the encoder's unit vectors of the training examples, the model gives two things
for a vector:

* ``probabilities``: a multinomial logistic regression over all intents, ``out_of_scope``
  included (it has several hundred examples of its own);
* ``nearest``: for each intent, the cosine similarity of the closest training example of that
  intent. A message far from everything an intent was taught is not that intent, however the
  regression splits its probability: that is how out of scope is judged by meaning;
* ``margin``: how much nearer a text's closest examples of one intent are than its closest
  examples of all the others (the crisis signal).

Saved as two files: ``intent_model.npz`` (weights and example vectors) and
``intent_model.json`` (labels).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np

WEIGHTS_FILE = "intent_model.npz"
LABELS_FILE = "intent_model.json"


@dataclass(frozen=True)
class IntentModel:
    labels: tuple[str, ...]
    coef: np.ndarray  # (labels, dimension)
    intercept: np.ndarray  # (labels,)
    examples: np.ndarray  # (examples, dimension) unit vectors
    example_labels: np.ndarray  # (examples,) index into labels

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """(n, labels) softmax probabilities."""
        logits = np.asarray(vectors, dtype=self.coef.dtype) @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    @cached_property
    def _by_label(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Examples ordered by label, and where each present label's examples start."""
        order = np.argsort(self.example_labels, kind="stable")
        ordered = np.ascontiguousarray(self.examples[order])
        present, starts = np.unique(self.example_labels[order], return_index=True)
        return ordered, present.astype(np.int64), starts.astype(np.int64)

    def _span(self, index: int) -> tuple[int, int] | None:
        ordered, present, starts = self._by_label
        where = np.searchsorted(present, index)
        if where >= len(present) or present[where] != index:
            return None
        end = int(starts[where + 1]) if where + 1 < len(starts) else len(ordered)
        return int(starts[where]), end

    def nearest(self, vectors: np.ndarray) -> np.ndarray:
        """(n, labels) similarity of each label's closest training example (-1 if none)."""
        ordered, present, starts = self._by_label
        vectors = np.asarray(vectors, dtype=ordered.dtype)  # a float64 row would copy them all
        best = np.full((len(vectors), len(self.labels)), -1.0, dtype=np.float32)
        if len(vectors) and len(ordered):
            best[:, present] = np.maximum.reduceat(vectors @ ordered.T, starts, axis=1)
        return best

    def margin(self, vectors: np.ndarray, label: str, k: int = 3) -> np.ndarray:
        """(n,) mean similarity of the ``k`` closest examples of ``label`` minus that of the
        ``k`` closest examples of every other label (``-1`` when ``label`` has no examples).

        How much nearer a text is to one intent's examples than to the rest: unlike a
        probability, it cannot be high for a text that is far from everything."""
        index = self.index(label)
        span = self._span(index) if index is not None else None
        ordered = self._by_label[0]
        if span is None or len(vectors) == 0:
            return np.full(len(vectors), -1.0, dtype=np.float32)
        start, end = span
        sims = np.asarray(vectors, dtype=ordered.dtype) @ ordered.T
        own = sims[:, start:end]
        other = np.concatenate([sims[:, :start], sims[:, end:]], axis=1)
        k_own, k_other = min(k, own.shape[1]), min(k, other.shape[1])
        if k_own == 0 or k_other == 0:
            return np.full(len(vectors), -1.0, dtype=np.float32)
        near_own = np.partition(own, -k_own, axis=1)[:, -k_own:].mean(axis=1)
        near_other = np.partition(other, -k_other, axis=1)[:, -k_other:].mean(axis=1)
        return (near_own - near_other).astype(np.float32)

    def index(self, label: str) -> int | None:
        return self.labels.index(label) if label in self.labels else None

    def save(self, directory: Path) -> None:
        np.savez(Path(directory) / WEIGHTS_FILE, coef=self.coef, intercept=self.intercept,
                 examples=self.examples.astype(np.float16), example_labels=self.example_labels)
        (Path(directory) / LABELS_FILE).write_text(json.dumps(list(self.labels)), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> IntentModel:
        labels = tuple(json.loads((Path(directory) / LABELS_FILE).read_text(encoding="utf-8")))
        with np.load(Path(directory) / WEIGHTS_FILE) as data:
            return cls(labels, data["coef"].astype(np.float32), data["intercept"].astype(np.float32),
                       data["examples"].astype(np.float32), data["example_labels"].astype(np.int32))


def train_intent_model(
    vectors: np.ndarray, labels: Sequence[str], regularisation: float = 10.0, seed: int = 42
) -> IntentModel:
    """Fit the regression (balanced classes) and keep the example vectors."""
    from sklearn.linear_model import LogisticRegression

    names = tuple(sorted(set(labels)))
    y = np.array([names.index(label) for label in labels], dtype=np.int32)
    if len(names) == 1:
        coef = np.zeros((1, vectors.shape[1]), dtype=np.float32)
        return IntentModel(names, coef, np.zeros(1, dtype=np.float32), vectors, y)
    regression = LogisticRegression(C=regularisation, max_iter=2000, class_weight="balanced",
                                    random_state=seed)
    regression.fit(vectors, y)
    coef, intercept = regression.coef_, regression.intercept_
    if len(names) == 2:  # sklearn gives one row for two classes
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    return IntentModel(names, coef.astype(np.float32), intercept.astype(np.float32),
                       vectors.astype(np.float32), y)
