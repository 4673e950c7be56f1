"""``python -m bot staff`` as a script or a newcomer uses it: no terminal, empty stores, --help."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

from bot.cli import build_parser
from bot.migrations import migrate
from bot.settings import PROJECT_ROOT


def run(args: List[str], env: Dict[str, str], stdin: Optional[str] = None
        ) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
        input=stdin if stdin is not None else "", timeout=120, env=env)


@pytest.fixture()
def env(tmp_path: Path) -> Dict[str, str]:
    base = {k: v for k, v in os.environ.items()
            if k not in ("STAFF_USER", "STAFF_PASSWORD", "STAFF_NEW_PASSWORD")}
    database_url = f"sqlite:///{tmp_path / 'clinic.db'}"
    migrate(database_url)
    return {**base, "PYTHONPATH": str(PROJECT_ROOT), "RASA_TELEMETRY_ENABLED": "false",
            "DATABASE_URL": database_url,
            "TRACKER_DB_URL": f"sqlite:///{tmp_path / 'tracker.db'}"}


def assert_one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_users_add_without_a_terminal_says_how_to_give_the_password(env: Dict[str, str]) -> None:
    line = assert_one_line_error(run(["staff", "users", "add", "carol", "--role", "clinician"], env))
    assert "--password-stdin" in line and "STAFF_NEW_PASSWORD" in line


def test_script_creates_accounts_with_password_stdin_and_the_variable(env: Dict[str, str]) -> None:
    first = run(["staff", "users", "add", "carol", "--role", "clinician", "--password-stdin"], env,
                stdin="carol-secret-1\n")
    assert first.returncode == 0, first.stderr
    assert "carol (clinician) created" in first.stdout
    second = run(["staff", "users", "add", "sam", "--role", "staff", "--user", "carol"],
                 {**env, "STAFF_PASSWORD": "carol-secret-1", "STAFF_NEW_PASSWORD": "sam-secret-22"})
    assert second.returncode == 0, second.stderr
    listed = run(["staff", "users", "list", "--user", "sam"], {**env, "STAFF_PASSWORD": "sam-secret-22"})
    assert listed.returncode == 0 and "sam" in listed.stdout and "carol" in listed.stdout
    # an expected refusal is one line
    wrong = run(["staff", "history", "--user", "sam"], {**env, "STAFF_PASSWORD": "not-it-at-all"})
    assert "Wrong user name or password" in assert_one_line_error(wrong)
    short = run(["staff", "users", "add", "kim", "--role", "staff", "--user", "carol",
                 "--password-stdin"], {**env, "STAFF_PASSWORD": "carol-secret-1"}, stdin="short\n")
    assert "at least 10 characters" in assert_one_line_error(short)


def test_empty_history_and_audit_say_they_are_empty(env: Dict[str, str]) -> None:
    made = run(["staff", "users", "add", "carol", "--role", "clinician"],
               {**env, "STAFF_NEW_PASSWORD": "carol-secret-1"})
    assert made.returncode == 0, made.stderr
    login = {**env, "STAFF_USER": "carol", "STAFF_PASSWORD": "carol-secret-1"}
    history = run(["staff", "history"], login)
    assert history.returncode == 0 and "No model history yet" in history.stdout
    audit = run(["staff", "audit"], login)
    assert audit.returncode == 0 and "add_user" in audit.stdout  # the account itself


def test_login_without_a_terminal_or_variable_is_one_line(env: Dict[str, str]) -> None:
    line = assert_one_line_error(run(["staff", "history", "--user", "carol"], env))
    assert "STAFF_PASSWORD" in line


def _commands(parser: argparse.ArgumentParser, path: List[str]) -> Iterator[List[str]]:
    yield path
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, [*path, name])


def test_every_command_has_help(capsys: pytest.CaptureFixture) -> None:
    commands = list(_commands(build_parser(), []))
    assert ["staff", "users", "add"] in commands and len(commands) > 20
    for path in commands:
        with pytest.raises(SystemExit) as done:
            build_parser().parse_args([*path, "--help"])
        assert done.value.code == 0, path
        shown = capsys.readouterr().out
        assert "usage:" in shown and "--help" in shown, path
    capsys.readouterr()
    with pytest.raises(SystemExit):
        build_parser().parse_args(["staff", "users", "add", "--help"])
    assert "STAFF_NEW_PASSWORD" in capsys.readouterr().out


def test_inbox_filters_pages_and_topics_on_the_command_line(env: Dict[str, str], tmp_path: Path) -> None:
    from bot.staff.project import Project
    from tests.unit.test_staff_core import Tracker

    from bot.db import get_engine
    from bot.staff import inbox

    inbox.EVENTS.metadata.create_all(get_engine(env["TRACKER_DB_URL"]))
    tracker = Tracker(Project(database_url=env["DATABASE_URL"], tracker_url=env["TRACKER_DB_URL"]))
    tracker.user("a", "what's the weather in calgary", "out_of_scope", 0.9)
    tracker.user("b", "does kombucha help my anxiety", "diet", 0.3)
    made = run(["staff", "users", "add", "carol", "--role", "clinician"],
               {**env, "STAFF_NEW_PASSWORD": "carol-secret-1"})
    assert made.returncode == 0, made.stderr
    login = {**env, "STAFF_USER": "carol", "STAFF_PASSWORD": "carol-secret-1"}
    narrowed = run(["staff", "inbox", "--reason", "out_of_scope"], login)
    assert narrowed.returncode == 0, narrowed.stderr
    assert "weather" in narrowed.stdout and "kombucha" not in narrowed.stdout
    paged = run(["staff", "inbox", "--limit", "1", "--page", "2"], login)
    assert "Page 2 of 2" in paged.stdout and "weather" in paged.stdout
    assert 'guessed "Not something the assistant answers"' in paged.stdout
    none = run(["staff", "inbox", "--search", "zebra"], login)
    assert "No message matches these filters." in none.stdout
    listed = run(["staff", "topics"], login)
    assert "What is the gut-brain axis?" in listed.stdout
    for internal in ("affirm", "inform", "greet"):
        assert f"\n{internal} " not in "\n" + listed.stdout
    bad = run(["staff", "inbox", "--since", "yesterday"], login)
    assert "YYYY-MM-DD" in assert_one_line_error(bad)
