"""Held-out predictions of one model, in a child process (``python -m bot.staff.evaluate``).

The staff loop compares a candidate model with the live one on ``tests/holdout``. Each model
is loaded in its own short-lived process so the CLI and the staff web page never hold
TensorFlow models in memory. Uses the project's evaluation code (``bot.evaluation``).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from bot.evaluation import metrics
from bot.evaluation.holdout import holdout_examples, idiom_examples
from bot.settings import PROJECT_ROOT

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


def predict(model: Path, holdout_dir: Path) -> Evaluation:
    """In this process: load ``model`` and guess every held-out message."""
    from bot.evaluation.predict import predict_intents

    examples = holdout_examples(holdout_dir)
    idioms = idiom_examples(holdout_dir / "not_crisis.yml")
    texts = [t for t, _ in examples] + [t for t, _ in idioms]
    predictions = asyncio.run(predict_intents(model, texts))
    guesses, ms = predictions.intents, predictions.ms_per_message
    scored = [(t, e, metrics.normalise_prediction(e, g))
              for (t, e), g in zip(examples, guesses[: len(examples)])]
    idiom_scored = [(t, e, g) for (t, e), g in zip(idioms, guesses[len(examples):])]
    return Evaluation(model.name, holdout_sha(holdout_dir), scored, idiom_scored, ms)


def evaluate_in_child(model: Path, holdout_dir: Path, cwd: Path, log: Path,
                      python: Optional[str] = None) -> Evaluation:
    """Run ``predict`` in a child process (cwd: the project, for the model's relative paths)."""
    import sys

    out = log.with_suffix(".json")
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", SQLALCHEMY_SILENCE_UBER_WARNING="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])))
    with log.open("w", encoding="utf-8") as handle:
        result = subprocess.run(
            [python or sys.executable, "-m", "bot.staff.evaluate", "--model", str(model),
             "--holdout", str(holdout_dir), "--out", str(out)],
            cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT, check=False,
        )
    if result.returncode != 0 or not out.exists():
        raise RuntimeError(f"Could not evaluate {model.name}; details in {log}.")
    return Evaluation.from_dict(json.loads(out.read_text(encoding="utf-8")))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--holdout", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    evaluation = predict(args.model, args.holdout)
    args.out.write_text(json.dumps(evaluation.as_dict()), encoding="utf-8")
    hit, total = evaluation.crisis
    print(f"{args.model.name}: accuracy {evaluation.accuracy:.3f}, crisis {hit}/{total}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
