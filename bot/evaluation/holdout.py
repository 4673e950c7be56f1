"""Read the held-out set (Rasa NLU YAML) and the not-a-crisis idioms."""

from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import yaml

from bot.settings import PROJECT_ROOT

HOLDOUT_DIR = PROJECT_ROOT / "tests" / "holdout"


def read_nlu_examples(path: Path) -> List[Tuple[str, str]]:
    """(text, intent) pairs from a Rasa NLU YAML file without annotations."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    pairs = []
    for block in data.get("nlu") or []:
        intent = block.get("intent")
        for line in str(block.get("examples") or "").splitlines():
            line = line.strip()
            if line.startswith("- "):
                pairs.append((line[2:].strip(), str(intent)))
    return pairs


def read_not_crisis(path: Path) -> List[Tuple[str, str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [(str(item["text"]), str(item["intent"])) for item in data.get("not_crisis") or []]


def holdout_examples(directory: Path = HOLDOUT_DIR) -> List[Tuple[str, str]]:
    return read_nlu_examples(directory / "nlu_holdout.yml")


def idiom_examples(directory: Path = HOLDOUT_DIR) -> List[Tuple[str, str]]:
    path = directory / "not_crisis.yml"
    return read_not_crisis(path) if path.exists() else []
