"""The Rasa API token: generated once into var/ (0600), read by the staff tools, env wins."""

from __future__ import annotations

import stat
from pathlib import Path

from bot.deploy import serve
from bot.settings import token
from bot.staff.project import Project


def test_first_start_writes_a_private_token_that_later_starts_reuse(tmp_path: Path) -> None:
    env = {token.FILE_VARIABLE: str(tmp_path / "var" / "rasa-api-token")}
    assert token.read_token(env) is None
    first = token.ensure_token(env)
    path = Path(env[token.FILE_VARIABLE])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 40 and token.ensure_token(env) == first
    assert Project.from_env({**env, "DATABASE_URL": "sqlite://"}).api_token == first


def test_the_environment_variable_overrides_the_file(tmp_path: Path) -> None:
    env = {token.FILE_VARIABLE: str(tmp_path / "rasa-api-token"), token.TOKEN_VARIABLE: "given"}
    assert token.ensure_token(env) == "given"
    assert not (tmp_path / "rasa-api-token").exists()
    assert Project.from_env({**env, "DATABASE_URL": "sqlite://"}).api_token == "given"


def test_an_empty_token_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "rasa-api-token"
    path.write_text("\n")
    made = token.ensure_token({token.FILE_VARIABLE: str(path)})
    assert made and path.read_text().strip() == made


def test_rasa_runs_with_the_api_on_loopback_behind_the_token() -> None:
    config = serve.StackConfig()
    command = serve.rasa_command(config, Path("endpoints.yml"), {token.TOKEN_VARIABLE: "t0k"})
    assert command[command.index("--auth-token") + 1] == "t0k" and "--enable-api" in command
    assert command[command.index("--interface") + 1] == "127.0.0.1"
