"""A model's held-out figures, as the staff loop compares them (``Evaluation``).

The staff loop compares a candidate model with the live one on ``tests/holdout``. The models
are loaded in the retrain's short-lived child process (``bot.staff.candidate``), so the CLI and
the staff web page never hold models in memory. The predictions come from the public API of
``bot.evaluation.predict``.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Tuple

from bot.evaluation import metrics
from bot.evaluation.holdout import holdout_examples, idiom_examples

if TYPE_CHECKING:
    from bot.evaluation.predict import Parser

Pair = Tuple[str, str]


@dataclass
class Evaluation:
    """One model's guesses on the held-out set and the figures staff are shown."""

    model: str
    holdout_sha: str
    examples: List[Tuple[str, str, str]]  # text, expected, guess (fallback on OOS normalised)
    idioms: List[Tuple[str, str, str]] = field(default_factory=list)
    ms_per_message: float = 0.0

    @property
    def pairs(self) -> List[Pair]:
        return [(e, g) for _, e, g in self.examples]

    @property
    def accuracy(self) -> float:
        return metrics.accuracy(self.pairs)

    @property
    def crisis(self) -> Tuple[int, int]:
        return metrics.crisis_recall(self.pairs)

    @property
    def crisis_recall(self) -> float:
        hit, total = self.crisis
        return hit / total if total else 1.0

    @property
    def false_crisis(self) -> Tuple[int, int]:
        return metrics.false_crisis(self.pairs + [(e, g) for _, e, g in self.idioms])

    def per_topic(self) -> Dict[str, metrics.Scores]:
        return metrics.per_label_scores(self.pairs)

    def as_dict(self) -> Dict[str, Any]:
        return {"model": self.model, "holdout_sha": self.holdout_sha, "examples": self.examples,
                "idioms": self.idioms, "ms_per_message": self.ms_per_message}

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Evaluation":
        return cls(str(data["model"]), str(data["holdout_sha"]),
                   [tuple(x) for x in data["examples"]],  # type: ignore[misc]
                   [tuple(x) for x in data.get("idioms") or []],  # type: ignore[misc]
                   float(data.get("ms_per_message") or 0.0))


def holdout_sha(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.yml")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def holdout_texts(holdout_dir: Path) -> Tuple[List[Pair], List[Pair]]:
    """The held-out (text, expected) pairs and the not-a-crisis idioms, in scoring order."""
    return holdout_examples(holdout_dir), idiom_examples(holdout_dir / "not_crisis.yml")


def evaluate(parser: "Parser", model_name: str, holdout_dir: Path) -> Evaluation:
    """In this process: the loaded model's guess for every held-out message and idiom."""
    from bot.evaluation.predict import predict_intents

    examples, idioms = holdout_texts(holdout_dir)
    texts = [t for t, _ in examples] + [t for t, _ in idioms]
    predictions = asyncio.run(predict_intents(parser, texts))
    guesses = predictions.intents
    scored = [(t, e, metrics.normalise_prediction(e, g))
              for (t, e), g in zip(examples, guesses[: len(examples)])]
    idiom_scored = [(t, e, g) for (t, e), g in zip(idioms, guesses[len(examples):])]
    return Evaluation(model_name, holdout_sha(holdout_dir), scored, idiom_scored,
                      predictions.ms_per_message)


def predict(model: Path, holdout_dir: Path) -> Evaluation:
    """In this process: load ``model`` and guess every held-out message."""
    from bot.evaluation.predict import Parser

    return evaluate(Parser(str(model)), model.name, holdout_dir)
