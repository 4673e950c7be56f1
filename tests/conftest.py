"""Shared fixtures: a throwaway knowledge database and tracker builders."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """Settings are read once per process (bot.settings.get_settings); each test reads them
    afresh, so one that sets a variable with monkeypatch sees it (a test that sets one after
    its first read clears the cache itself)."""
    from bot.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture()
def kb_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A SQLite knowledge database loaded from the real topics.yml, used as DATABASE_URL."""
    from bot import db
    from bot.knowledge import store
    from bot.migrations import migrate
    from bot.settings import get_settings

    url = f"sqlite:///{tmp_path / 'kb.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    db.get_engine.cache_clear()
    migrate(url)
    store.sync_topics(store.load_topics_file())
    yield url
    store._cache.clear()
    db.get_engine.cache_clear()
    get_settings.cache_clear()


def make_tracker(
    intent: str,
    text: str = "",
    confidence: float = 0.95,
    ranking: Optional[List[Dict[str, Any]]] = None,
    active_loop: Optional[str] = None,
    slots: Optional[Dict[str, Any]] = None,
) -> Any:
    """A rasa-sdk Tracker whose latest message has the given intent."""
    from rasa_sdk import Tracker

    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": ranking or [{"name": intent, "confidence": confidence}],
        "entities": [],
    }
    return Tracker.from_dict(
        {
            "sender_id": "test-user",
            "slots": slots or {},
            "latest_message": latest,
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {"name": active_loop} if active_loop else {},
            "latest_action_name": "action_listen",
        }
    )
