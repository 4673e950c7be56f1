"""End-to-end fixtures: the real action server and Rasa server on free loopback ports."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from bot.deploy import serve
from bot.deploy.serve import free_port

MODEL = Path(os.environ.get("RASA_MODEL") or serve.DEFAULT_MODEL)


class Assistant:
    """A running stack and a REST client for it."""

    def __init__(self, config: serve.StackConfig) -> None:
        self.config = config

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.config.rasa_port}"

    def send(self, sender: str, message: Any, timeout: float = 30) -> List[Dict[str, Any]]:
        body = json.dumps({"sender": sender, "message": message}).encode()
        request = urllib.request.Request(
            self.config.rest_url, data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return list(json.loads(response.read()))

    def stored_events(self, sender: str) -> int:
        """How many events the tracker database holds for this conversation."""
        import sqlite3

        path = self.config.extra_env["TRACKER_DB_URL"][len("sqlite:///"):]
        with sqlite3.connect(path) as connection:
            try:
                row = connection.execute(
                    "SELECT count(*) FROM events WHERE sender_id = ?", (sender,)).fetchone()
            except sqlite3.OperationalError:  # no table yet: nothing stored at all
                return 0
        return int(row[0])

    def stored_event_data(self, sender: str) -> List[Dict[str, Any]]:
        """The conversation's events as stored (the tracker database's JSON), oldest first."""
        import sqlite3

        path = self.config.extra_env["TRACKER_DB_URL"][len("sqlite:///"):]
        with sqlite3.connect(path) as connection:
            rows = connection.execute(
                "SELECT data FROM events WHERE sender_id = ? ORDER BY id", (sender,)).fetchall()
        return [json.loads(row[0]) for row in rows]

    def post(self, body: bytes, headers: Dict[str, str]) -> Tuple[int, Any]:
        """POST raw bytes to the REST webhook; the status and the decoded JSON answer."""
        request = urllib.request.Request(self.config.rest_url, data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    @staticmethod
    def topic(messages: List[Dict[str, Any]]) -> str:
        return next(m["custom"]["topic"] for m in messages if m.get("custom", {}).get("topic"))

    @staticmethod
    def custom(messages: List[Dict[str, Any]]) -> Dict[str, Any]:
        return next(m["custom"] for m in messages if m.get("custom", {}).get("topic"))

    @staticmethod
    def text(messages: List[Dict[str, Any]]) -> str:
        return "\n".join(m.get("text", "") for m in messages if m.get("text"))


def start_assistant(tmp: Path, **extra_env: str) -> Assistant:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make train` first")
    config = serve.StackConfig(
        model=MODEL,
        rasa_port=free_port(),
        action_port=free_port(),
        run_dir=tmp / "run",
        log_dir=tmp / "log",
        extra_env={
            "TRACKER_DB_URL": f"sqlite:///{tmp / 'tracker.db'}",
            "DATABASE_URL": f"sqlite:///{tmp / 'clinic.db'}",
            **extra_env,
        },
    )
    from bot.knowledge import store
    from bot.migrations import migrate

    migrate(config.extra_env["DATABASE_URL"])  # serve.start migrates too: a no-op then
    store.sync_topics(store.load_topics_file(), config.extra_env["DATABASE_URL"])
    serve.start(config)
    return Assistant(config)


@pytest.fixture(scope="session")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    """One stack shared by the end-to-end tests of a run (SQLite stores in a temp dir)."""
    tmp = tmp_path_factory.mktemp("stack")
    running = start_assistant(tmp)
    try:
        yield running
    finally:
        serve.stop(running.config)
