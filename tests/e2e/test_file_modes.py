"""Owner-only files (issue 16, item 1): after ``make run`` nothing under var/ is readable by
another local user, and files left readable by an older version are tightened, said once.

Runs the real ``make run`` of this checkout on free ports (its run directory in a temporary
folder, so no other stack is stopped), sends a turn so the tracker database and its WAL
exist, then checks every mode under var/.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import urllib.request
import uuid
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from bot.deploy.serve import VAR_DIR, free_port
from bot.settings import PROJECT_ROOT
from tests.e2e.conftest import MODEL


def _loose(root: Path) -> List[str]:
    """Everything under ``root`` (itself included) that group or others may use."""
    found = []
    for path in [root, *root.rglob("*")]:
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:  # a SQLite -shm/-journal can come and go
            continue
        if not stat.S_ISLNK(mode) and mode & 0o077:
            found.append(f"{path.relative_to(PROJECT_ROOT)} {stat.filemode(mode)}")
    return found


@pytest.fixture(scope="module")
def make_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, str]]:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make train` first")
    tmp = tmp_path_factory.mktemp("make-run")
    log_dir = VAR_DIR / "log" / f"e2e-{uuid.uuid4().hex[:8]}"
    # what an older version left behind: a world-readable var/, log and database
    VAR_DIR.mkdir(exist_ok=True)
    os.chmod(VAR_DIR, 0o755)
    log_dir.mkdir(parents=True)
    os.chmod(log_dir, 0o755)
    (log_dir / "old.log").write_text("an older run\n")
    os.chmod(log_dir / "old.log", 0o644)
    clinic_db = VAR_DIR / "clinic.db"
    if clinic_db.exists():
        os.chmod(clinic_db, 0o644)
    env = dict(
        os.environ,
        RASA_PORT=str(free_port()), ACTION_PORT=str(free_port()), WEB_PORT=str(free_port()),
        RUN_DIR=str(tmp / "run"), LOG_DIR=str(log_dir), RASA_MODEL=str(MODEL),
    )
    env.pop("DATABASE_URL", None)
    env.pop("TRACKER_DB_URL", None)
    old_umask = os.umask(0o022)  # as a person's shell usually has it
    try:
        started = subprocess.run(  # noqa: S603 (fixed command)
            ["make", "-o", "models/current.tar.gz", "run"], cwd=PROJECT_ROOT, env=env,
            capture_output=True, text=True, timeout=600, check=False,
        )
    finally:
        os.umask(old_umask)
    try:
        assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-2000:]
        yield {"output": started.stdout + started.stderr, "log_dir": str(log_dir),
               "rasa_port": env["RASA_PORT"]}
    finally:
        subprocess.run(["make", "stop"], cwd=PROJECT_ROOT, env=env,  # noqa: S603, S607
                       capture_output=True, timeout=120, check=False)


def test_make_run_leaves_nothing_under_var_readable_by_others(make_run: Dict[str, str]) -> None:
    body = json.dumps({"sender": f"modes-{uuid.uuid4().hex}", "message": "hello"}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{make_run['rasa_port']}/webhooks/rest/webhook", data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (loopback)
        assert json.loads(response.read())
    tracker = VAR_DIR / "tracker.db"
    assert tracker.exists() and (VAR_DIR / "clinic.db").exists()
    assert stat.S_IMODE(VAR_DIR.stat().st_mode) == 0o700
    for name in ("clinic.db", "tracker.db", "tracker.db-wal"):
        path = VAR_DIR / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    logs = list(Path(make_run["log_dir"]).glob("*.log"))
    assert {p.name for p in logs} >= {"rasa.log", "actions.log", "web.log", "old.log"}
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in logs)
    assert _loose(VAR_DIR) == []


def test_the_tightening_is_said_once(make_run: Dict[str, str]) -> None:
    lines = [line for line in make_run["output"].splitlines() if "owner-only" in line]
    assert len(lines) == 1, make_run["output"][-2000:]
    assert "var" in lines[0] and "readable by other local users" in lines[0]
