"""One typed settings object: every environment variable declared once, read in one place."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import pytest

from bot.channels import credentials
from bot.settings import PROJECT_ROOT, Environment, get_settings, load_settings
from bot.settings import commands as settings_commands
from bot.settings.environment import markdown_table, variables

SETTINGS_PACKAGE = PROJECT_ROOT / "bot" / "settings"

# Where code outside bot/settings may still touch os.environ, and why. Each place says so in a
# comment ("Allowed ... os.environ") next to the use.
ALLOWED_ENVIRON: Dict[Tuple[str, str], str] = {
    ("bot/deploy/serve.py", "server_env"): "builds the servers' child environment",
    ("bot/evaluation/__main__.py", "rasa_images"): "builds `rasa test`'s child environment",
    ("bot/staff/benchmark.py", "_cli_open"): "builds the staff CLI child's environment",
    ("bot/staff/checks.py", "_env"): "builds the check children's environment",
    ("bot/staff/candidate.py", "_env"): "builds the candidate child's environment",
    ("bot/quiet.py", "quiet"): "sets library defaults (telemetry, log levels) before imports",
}
ENVIRON_NAMES = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def _python_files() -> List[Path]:
    files = sorted((PROJECT_ROOT / "bot").rglob("*.py")) + sorted(
        (PROJECT_ROOT / "actions").rglob("*.py"))
    return [path for path in files if SETTINGS_PACKAGE not in path.parents]


def _innermost(tree: ast.AST) -> Dict[int, str]:
    """Line → the innermost function around it."""
    spans: List[Tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            spans.append((node.lineno, node.end_lineno or node.lineno, node.name))
    owner: Dict[int, str] = {}
    for start, end, name in sorted(spans, key=lambda span: span[1] - span[0], reverse=True):
        for line in range(start, end + 1):
            owner[line] = name
    return owner


def environ_uses() -> Dict[Tuple[str, str], List[int]]:
    """(file, function) → lines where os.environ / os.getenv (or an import of them) appear."""
    found: Dict[Tuple[str, str], List[int]] = {}
    for path in _python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        owner = _innermost(tree)
        relative = path.relative_to(PROJECT_ROOT).as_posix()
        for node in ast.walk(tree):
            line: Optional[int] = None
            if (isinstance(node, ast.Attribute) and node.attr in ENVIRON_NAMES
                    and isinstance(node.value, ast.Name) and node.value.id == "os"):
                line = node.lineno
            elif isinstance(node, ast.ImportFrom) and node.module == "os" and any(
                    alias.name in ENVIRON_NAMES for alias in node.names):
                line = node.lineno
            if line is not None:
                found.setdefault((relative, owner.get(line, "<module>")), []).append(line)
    return found


def test_nothing_outside_bot_settings_reads_the_environment() -> None:
    uses = environ_uses()
    unexpected = {place: lines for place, lines in uses.items() if place not in ALLOWED_ENVIRON}
    assert not unexpected, (
        f"os.environ read outside bot/settings: {unexpected}; declare the variable in "
        "bot/settings/environment.py and read get_settings().env")
    stale = set(ALLOWED_ENVIRON) - set(uses)
    assert not stale, f"allowed places that no longer touch os.environ: {stale}"
    for (relative, _function), lines in uses.items():
        source = (PROJECT_ROOT / relative).read_text(encoding="utf-8").splitlines()
        for line in lines:
            nearby = "\n".join(source[max(0, line - 5):line])
            assert re.search(r"Allowed (read|use) of os\.environ", nearby), (relative, line)


def test_the_check_finds_a_read_of_the_environment(tmp_path: Path) -> None:
    tree = ast.parse("import os\n\ndef f():\n    return os.environ.get('X')\n")
    assert any(isinstance(node, ast.Attribute) and node.attr == "environ"
               for node in ast.walk(tree))
    assert _innermost(tree)[4] == "f"


def declared_names() -> Set[str]:
    return {item.name for item in variables()}


def test_no_module_looks_a_declared_variable_up_in_a_mapping() -> None:
    """``env.get("TRACKER_DB_URL")`` on a passed-in environment is a second reading of it
    (``Environment.from_environ(env)`` / ``environment(env)`` reads a mapping instead)."""
    names = declared_names()
    found = []

    def environment_like(node: ast.AST) -> bool:
        return isinstance(node, ast.Name) and node.id in ("env", "environ", "environment")

    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            key: Optional[ast.AST] = None
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("get", "pop") and environment_like(node.func.value)
                    and node.args):
                key = node.args[0]
            elif (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load)
                  and environment_like(node.value)):
                key = node.slice
            if isinstance(key, ast.Constant) and key.value in names:
                found.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} {key.value}")
    assert not found, found


def test_each_variable_is_declared_once_with_a_type_a_default_and_a_doc() -> None:
    items = variables()
    names = [item.name for item in items]
    assert len(names) == len(set(names))
    for item in items:
        assert re.fullmatch(r"[A-Z][A-Z0-9_]+", item.name), item.name
        assert item.attribute == item.name.lower()
        assert item.type_name in ("str", "int", "float", "bool", "Path")
        assert item.doc and "\n" not in item.doc and "|" not in item.doc
    assert {"TRACKER_DB_URL", "TRACKER_DB_PASSWORD", "DATABASE_URL"} <= set(names)


def test_a_dict_environment_is_parsed_by_type() -> None:
    env = Environment.from_environ({
        "RASA_PORT": "6000", "SMTP_TIMEOUT": "2.5", "TRUST_PROXY_HEADERS": "1",
        "NOTIFY_FULL_DETAILS": "Yes", "RUN_DIR": "/tmp/run", "WEB_PORT": "",
        "STAFF_PASSWORD": "", "STAFF_HTTPS": "off", "UNRELATED": "x"})
    assert env.rasa_port == 6000 and env.smtp_timeout == 2.5
    assert env.trust_proxy_headers is True and env.notify_full_details is True
    assert env.run_dir == Path("/tmp/run")
    assert env.web_port == 8080  # empty: the default
    assert env.staff_password == ""  # a text without a default keeps the empty value
    assert env.staff_https is False
    assert env.staff_user is None and env.redis_url is None
    assert env.given == {"RASA_PORT", "SMTP_TIMEOUT", "TRUST_PROXY_HEADERS",
                         "NOTIFY_FULL_DETAILS", "RUN_DIR", "STAFF_PASSWORD", "STAFF_HTTPS"}
    assert env.explicit("RASA_PORT") == 6000 and env.explicit("DATABASE_URL") is None
    defaults = Environment.from_environ({})
    assert defaults.trust_proxy_headers is False and defaults.rasa_port == 5005
    assert defaults.database_url.startswith("sqlite:///") and defaults.given == frozenset()


def test_a_value_of_the_wrong_type_names_the_variable() -> None:
    with pytest.raises(ValueError, match="RASA_PORT must be int"):
        Environment.from_environ({"RASA_PORT": "five"})


def test_load_settings_from_a_dict_applies_the_clinic_overrides() -> None:
    settings = load_settings(environ={"CLINIC_PHONE": "(403) 555-0000",
                                      "DATABASE_URL": "sqlite://"})
    assert settings.phone == "(403) 555-0000" and settings.database_url == "sqlite://"
    assert settings.env.database_url == "sqlite://"
    assert "answer_min_confidence" not in settings.extra  # nothing read it; removed


def test_settings_are_read_on_first_use_not_at_import() -> None:
    code = ("import bot.settings, bot.deploy.serve, bot.deploy.prod, bot.staff.project, "
            "bot.privacy.stores, bot.web.server, bot.notify.config, bot.channels.rest\n"
            "print(bot.settings.get_settings.cache_info().currsize)")
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True,
                            text=True, timeout=120,
                            env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin",
                                 "RASA_TELEMETRY_ENABLED": "false"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "0"


# --- the tracker URL, built in one place -----------------------------------------------------
PASSWORDED = {"TRACKER_DB_URL": "postgresql://rasa@db:5432/tracker",
              "TRACKER_DB_PASSWORD": "s3cret", "DATABASE_URL": "sqlite://"}
WITH_PASSWORD = "postgresql://rasa:s3cret@db:5432/tracker"


def test_the_staff_inbox_gets_the_tracker_password_as_the_privacy_jobs_do() -> None:
    from bot.privacy import stores
    from bot.staff.project import Project

    assert Project.from_env(PASSWORDED).tracker_url == WITH_PASSWORD
    assert stores.tracker_url(PASSWORDED) == WITH_PASSWORD
    assert Environment.from_environ(PASSWORDED).tracker_url() == WITH_PASSWORD
    assert Project.from_env({"DATABASE_URL": "sqlite://"}).tracker_url.startswith("sqlite:///")


def test_the_process_settings_give_every_side_the_same_tracker_url(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.privacy import stores
    from bot.staff.project import Project
    from bot.web.server import TRACKER_URL_KEY, create_app

    for name, value in PASSWORDED.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    assert Project.from_env().tracker_url == WITH_PASSWORD
    assert stores.tracker_url() == WITH_PASSWORD
    assert create_app()[TRACKER_URL_KEY] == WITH_PASSWORD


def test_a_url_with_its_own_password_or_sqlite_is_left_alone() -> None:
    own = Environment.from_environ({"TRACKER_DB_URL": "postgresql://rasa:mine@db/tracker",
                                    "TRACKER_DB_PASSWORD": "other"})
    assert own.tracker_url() == "postgresql://rasa:mine@db/tracker"
    lite = Environment.from_environ({"TRACKER_DB_URL": "sqlite:////tmp/t.db",
                                     "TRACKER_DB_PASSWORD": "other"})
    assert lite.tracker_url() == "sqlite:////tmp/t.db"


def test_default_database_url_is_defined_once() -> None:
    found = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign) and any(
                    isinstance(target, ast.Name) and target.id in
                    ("DEFAULT_DATABASE_URL", "DEFAULT_TRACKER_URL") for target in node.targets):
                found.append(str(path.relative_to(PROJECT_ROOT)))
    assert not found, found  # only bot/settings/environment.py assigns them


# --- the README table and the channel template ----------------------------------------------
def configuration_section() -> str:
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_table_is_generated_from_the_declarations() -> None:
    assert settings_commands.readme_table() == markdown_table(), (
        "run `python -m bot settings table --write`")
    listed = re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", settings_commands.readme_table(), re.M)
    assert listed == [item.name for item in variables()]


def test_every_variable_the_configuration_tables_name_is_declared() -> None:
    rows = [line for line in configuration_section().splitlines() if line.startswith("|")]
    named = set(re.findall(r"`([A-Z][A-Z0-9_]{2,})(?:=[^`]*)?`", "\n".join(rows)))
    assert named and named <= declared_names(), named - declared_names()


def test_the_readme_check_fails_when_the_table_is_stale(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"x\n{settings_commands.BEGIN}\n| old |\n{settings_commands.END}\ny\n")
    assert settings_commands.readme_table(readme) != markdown_table()
    assert settings_commands.write_readme(readme) is True
    assert settings_commands.readme_table(readme) == markdown_table()
    assert settings_commands.write_readme(readme) is False
    assert readme.read_text().startswith("x\n") and readme.read_text().endswith("\ny\n")


def test_every_channel_credential_in_the_template_is_declared() -> None:
    always, messaging = credentials.read_template(credentials.TEMPLATE.read_text("utf-8"))
    used = set(credentials.variables(always)) | set(credentials.variables(messaging))
    assert used and used <= declared_names(), used - declared_names()
