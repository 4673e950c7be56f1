"""Texts shown to people, read from ``config/messages.yml`` and filled from settings."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Optional

import yaml

from bot.settings import PROJECT_ROOT, Settings, get_settings

MESSAGES_FILE = PROJECT_ROOT / "config" / "messages.yml"


@lru_cache(maxsize=4)
def _load(path: Path) -> Dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


class _Default(dict):  # type: ignore[type-arg]
    """Leaves unknown placeholders visible instead of raising."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def message(key: str, settings: Optional[Settings] = None, **values: str) -> str:
    """The text for ``key`` (dotted for nested keys), with placeholders filled."""
    node: Any = _load(MESSAGES_FILE)
    for part in key.split("."):
        node = node[part]
    context = _Default((settings or get_settings()).template_values())
    context.update(values)
    return " ".join(str(node).split()).format_map(context)
