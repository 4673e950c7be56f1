"""The demo web server: feedback validation and storage, the demo page, the widget's files."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.deploy import serve
from bot.migrations import migrate
from bot.web import feedback
from bot.web.server import create_app, render_demo_page

RASA_URL = "http://127.0.0.1:5123"
PAGE_ORIGIN = "http://127.0.0.1:8080"
VALID = {"sender": "web-abc", "value": "down", "topic": "scfa", "message_index": 1,
         "message": "Short-chain fatty acids are made by gut bacteria."}

Scenario = Callable[[TestClient], Awaitable[Any]]


@pytest.fixture()
def database_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'feedback.db'}"
    migrate(url)
    return url


SECRET_ANSWER = "my private worry about my medication"


@pytest.fixture()
def tracker_url(tmp_path: Path) -> str:
    """A conversation store holding web-abc's conversation: the answers votes may name."""
    import sqlite3

    path = tmp_path / "tracker.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, "
                           "type_name TEXT, timestamp REAL, intent_name TEXT, "
                           "action_name TEXT, data TEXT)")
        for kind, text in (("user", "what is butyrate?"), ("bot", VALID["message"]),
                           ("user", "hm"), ("bot", SECRET_ANSWER)):
            connection.execute(
                "INSERT INTO events (sender_id, type_name, data) VALUES (?, ?, ?)",
                ("web-abc", kind, json.dumps({"event": kind, "text": text})))
    return f"sqlite:///{path}"


@pytest.fixture()
def run(database_url: str, tracker_url: str) -> Callable[[Scenario], Any]:
    """Run ``scenario(client)`` against the app on a real loopback socket."""

    def runner(scenario: Scenario) -> Any:
        async def main() -> Any:
            app = create_app(RASA_URL, database_url, allowed_origins=[PAGE_ORIGIN],
                             tracker_url=tracker_url)
            async with TestClient(TestServer(app)) as client:
                return await scenario(client)

        # In a thread of its own: another test's event loop may be running in this one.
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, main()).result()

    return runner


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    "body, complaint",
    [
        ([], "JSON object"),
        ("up", "JSON object"),
        (None, "JSON object"),
        ({"value": "up"}, "'sender'"),
        ({"sender": "", "value": "up"}, "'sender'"),
        ({"sender": "   ", "value": "up"}, "'sender'"),
        ({"sender": 42, "value": "up"}, "'sender'"),
        ({"sender": "x" * 129, "value": "up"}, "at most 128"),
        ({"sender": "web-1"}, "'value'"),
        ({"sender": "web-1", "value": "UP"}, "'value'"),
        ({"sender": "web-1", "value": "meh"}, "'value'"),
        ({"sender": "web-1", "value": 1}, "'value'"),
        ({"sender": "web-1", "value": "up", "topic": "<b>scfa</b>"}, "'topic'"),
        ({"sender": "web-1", "value": "up", "topic": "t" * 65}, "'topic'"),
        ({"sender": "web-1", "value": "up", "topic": 3}, "'topic'"),
        ({"sender": "web-1", "value": "up", "message_index": -1}, "'message_index'"),
        ({"sender": "web-1", "value": "up", "message_index": "1"}, "'message_index'"),
        ({"sender": "web-1", "value": "up", "message_index": True}, "'message_index'"),
        ({"sender": "web-1", "value": "up", "message_index": 1.5}, "'message_index'"),
        ({"sender": "web-1", "value": "up", "message": ["a"]}, "'message'"),
        ({"sender": "web-1", "value": "up", "message": "x" * 20_001}, "'message'"),
    ],
)
def test_invalid_feedback_says_what_is_wrong(body: Any, complaint: str) -> None:
    with pytest.raises(feedback.InvalidFeedback, match=re.escape(complaint)):
        feedback.parse_feedback(body)


def test_valid_feedback_keeps_a_hash_not_the_text() -> None:
    vote = feedback.parse_feedback({**VALID, "sender": " web-abc "})
    assert vote.sender_id == "web-abc"
    assert (vote.value, vote.topic, vote.message_index) == ("down", "scfa", 1)
    assert vote.message_hash == hashlib.sha256(VALID["message"].encode()).hexdigest()
    assert VALID["message"] not in repr(vote)


def test_sender_of_exactly_128_characters_is_accepted() -> None:
    assert feedback.parse_feedback({"sender": "s" * 128, "value": "up"}).sender_id == "s" * 128


# ------------------------------------------------------------------- endpoint


def test_feedback_is_stored_for_staff(run: Callable[[Scenario], Any], database_url: str) -> None:
    async def scenario(client: TestClient) -> Any:
        response = await client.post("/feedback", json=VALID)
        return response.status, await response.json()

    status, body = run(scenario)
    assert status == 201 and body["status"] == "stored"
    rows = feedback.feedback_for("web-abc", database_url)
    assert len(rows) == 1
    assert rows[0]["value"] == "down" and rows[0]["topic"] == "scfa"
    assert rows[0]["message_hash"] == feedback.text_hash(VALID["message"])


def test_changing_the_vote_on_an_answer_keeps_one_row(
    run: Callable[[Scenario], Any], database_url: str
) -> None:
    async def scenario(client: TestClient) -> list[int]:
        first = await client.post("/feedback", json=VALID)
        second = await client.post("/feedback", json={**VALID, "value": "up"})
        other = await client.post("/feedback", json={**VALID, "message_index": 2})
        return [first.status, second.status, other.status]

    assert run(scenario) == [201, 201, 201]
    rows = feedback.feedback_for("web-abc", database_url)
    assert [(row["message_index"], row["value"]) for row in rows] == [(1, "up"), (2, "down")]


@pytest.mark.parametrize(
    "send, complaint",
    [
        ({"data": "value=up", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
         "as JSON"),
        ({"data": "{not json", "headers": {"Content-Type": "application/json"}}, "not valid JSON"),
        ({"json": ["up"]}, "JSON object"),
        ({"json": {**VALID, "sender": "x" * 129}}, "at most 128 characters"),
        ({"json": {**VALID, "value": "sideways"}}, "'up' or 'down'"),
    ],
)
def test_bad_requests_get_400_with_a_clear_message(
    run: Callable[[Scenario], Any], database_url: str, send: dict[str, Any], complaint: str
) -> None:
    async def scenario(client: TestClient) -> Any:
        response = await client.post("/feedback", **send)
        return response.status, await response.json()

    status, body = run(scenario)
    assert status == 400
    assert complaint in body["error"]
    assert feedback.feedback_for("web-abc", database_url) == []


def test_oversized_body_is_refused(run: Callable[[Scenario], Any]) -> None:
    async def scenario(client: TestClient) -> int:
        response = await client.post(
            "/feedback", data="x" * 100_000, headers={"Content-Type": "application/json"}
        )
        return response.status

    assert run(scenario) == 413


def test_message_text_is_never_logged(
    run: Callable[[Scenario], Any], caplog: pytest.LogCaptureFixture
) -> None:
    secret = SECRET_ANSWER

    async def scenario(client: TestClient) -> int:
        response = await client.post("/feedback", json={**VALID, "message": secret})
        return response.status

    with caplog.at_level(logging.DEBUG):
        assert run(scenario) == 201
    assert secret not in caplog.text


def test_cors_allows_the_configured_page_only(run: Callable[[Scenario], Any]) -> None:
    async def scenario(client: TestClient) -> tuple[Any, Any, Any]:
        preflight = await client.options("/feedback", headers={"Origin": PAGE_ORIGIN})
        allowed = await client.post("/feedback", json=VALID, headers={"Origin": PAGE_ORIGIN})
        other = await client.post(
            "/feedback", json=VALID, headers={"Origin": "https://evil.example"}
        )
        return (
            preflight.headers.get("Access-Control-Allow-Origin"),
            allowed.headers.get("Access-Control-Allow-Origin"),
            other.headers.get("Access-Control-Allow-Origin"),
        )

    assert run(scenario) == (PAGE_ORIGIN, PAGE_ORIGIN, None)


def test_votes_from_other_sites_or_for_answers_not_given_are_refused(
    run: Callable[[Scenario], Any], database_url: str
) -> None:
    async def scenario(client: TestClient) -> list[int]:
        statuses = []
        for body, headers in (
            (VALID, {"Origin": "https://evil.example"}),
            ({**VALID, "sender": "web-someone-else"}, {}),
            ({**VALID, "message": "an answer the assistant never gave"}, {}),
            ({key: value for key, value in VALID.items() if key != "message"}, {}),
        ):
            response = await client.post("/feedback", json=body, headers=headers)
            statuses.append(response.status)
        return statuses

    assert run(scenario) == [403, 404, 404, 400]
    assert feedback.feedback_for("web-abc", database_url) == []
    assert feedback.feedback_for("web-someone-else", database_url) == []


# ------------------------------------------------------------ page and files


def test_demo_page_points_the_widget_at_the_configured_rasa_server() -> None:
    page, policy = render_demo_page(RASA_URL)
    assert page.count("<script src=") == 1
    assert f'data-server="{RASA_URL}"' in page
    assert f"connect-src 'self' {RASA_URL}" in policy
    assert "unsafe-inline" not in policy
    inline = re.search(r"<script>(.*?)</script>", page, re.DOTALL)
    assert inline, "the demo shows the optional configuration object"
    digest = base64.b64encode(hashlib.sha256(inline.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy


def test_demo_page_and_widget_files_are_served(run: Callable[[Scenario], Any]) -> None:
    async def scenario(client: TestClient) -> dict[str, Any]:
        page = await client.get("/")
        script = await client.get("/static/clinic-chat.js")
        sheet = await client.get("/static/clinic-chat.css")
        escape = await client.get("/static/../server.py")
        health = await client.get("/health")
        return {
            "page": (page.status, page.headers.get("Content-Security-Policy", "")),
            "script": (script.status, script.content_type),
            "sheet": (sheet.status, sheet.content_type),
            "escape": escape.status,
            "health": health.status,
        }

    seen = run(scenario)
    assert seen["page"][0] == 200 and "default-src 'self'" in seen["page"][1]
    assert seen["script"] == (200, "text/javascript")
    assert seen["sheet"] == (200, "text/css")
    assert seen["escape"] in (403, 404)
    assert seen["health"] == 200


def test_widget_never_uses_innerhtml() -> None:
    script = (Path(serve.PROJECT_ROOT) / "bot/web/static/clinic-chat.js").read_text()
    for risky in (".innerHTML", ".outerHTML", "insertAdjacentHTML(", "document.write(",
                  "eval(", "new Function("):
        assert risky not in script, risky


# ----------------------------------------------------------- make run wiring


def test_rasa_cors_follows_the_web_port() -> None:
    config = serve.StackConfig.from_env({"WEB_PORT": "9123"})
    assert config.web_port == 9123 and config.web_url == "http://127.0.0.1:9123/"
    command = serve.rasa_command(config, Path("endpoints.yml"), {})
    origins = command[command.index("--cors") + 1:]
    assert origins == ["http://127.0.0.1:9123", "http://localhost:9123"]


def test_cors_origins_from_the_environment_win() -> None:
    config = serve.StackConfig.from_env({})
    assert config.web_port == serve.DEFAULT_WEB_PORT
    command = serve.rasa_command(
        config, Path("endpoints.yml"), {"CORS_ORIGINS": "https://clinic.example"}
    )
    assert command[command.index("--cors") + 1:] == ["https://clinic.example"]


def test_web_server_command_points_at_rasa() -> None:
    config = serve.StackConfig(rasa_port=5999, web_port=8111)
    command = serve.web_command(config, {})
    assert command[1:3] == ["-m", "bot.web"]
    assert command[command.index("--port") + 1] == "8111"
    assert command[command.index("--rasa-url") + 1] == "http://127.0.0.1:5999"
    public = serve.web_command(config, {"RASA_PUBLIC_URL": "https://chat.clinic.example"})
    assert public[public.index("--rasa-url") + 1] == "https://chat.clinic.example"


def test_end_to_end_stack_starts_no_web_server_unless_asked() -> None:
    assert serve.StackConfig().web_port is None
    assert "web" not in json.loads(serve.status_line(serve.StackConfig()))
