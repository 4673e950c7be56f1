"""Start and stop the action server, the Rasa server and the demo page in the background.

Used by ``make run`` / ``make stop`` and by the end-to-end tests, so that what the tests
start is exactly what a clinic runs.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional

from bot.channels.credentials import write_credentials
from bot import files
from bot.deploy.endpoints import write_endpoints
from bot.settings.token import TOKEN_VARIABLE, ensure_token
from bot.settings import PROJECT_ROOT, environment
from bot.settings.origins import demo_origins

logger = logging.getLogger(__name__)

VAR_DIR = PROJECT_ROOT / "var"
DEFAULT_MODEL = PROJECT_ROOT / "models" / "current.tar.gz"
DEFAULT_WEB_PORT = 8080
# Largest request body the public servers accept (Sanic answers 413 above it). A chat
# message is at most 5,000 characters; Sanic's own default is 100 MB.
REQUEST_MAX_BYTES = 64 * 1024


@dataclass
class StackConfig:
    """Where the servers listen and what they use."""

    rasa_port: int = 5005
    action_port: int = 5055
    interface: str = "127.0.0.1"
    model: Path = DEFAULT_MODEL
    run_dir: Path = VAR_DIR / "run"
    log_dir: Path = VAR_DIR / "log"
    credentials: Path = PROJECT_ROOT / "credentials.yml"
    """The template; Rasa runs with ``run_dir/credentials.yml`` written from it at start."""
    extra_env: Dict[str, str] = field(default_factory=dict)
    # The demo page with the chat widget; None: not started (the end-to-end tests).
    web_port: Optional[int] = None

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "StackConfig":
        env = environment(environ)
        return cls(
            rasa_port=env.rasa_port,
            action_port=env.action_port,
            interface=env.rasa_interface,
            model=env.rasa_model or DEFAULT_MODEL,
            run_dir=env.run_dir,
            log_dir=env.log_dir,
            web_port=env.web_port,
        )

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}/webhooks/rest/webhook"

    @property
    def web_url(self) -> Optional[str]:
        return f"http://127.0.0.1:{self.web_port}/" if self.web_port else None


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(config: StackConfig) -> Dict[str, str]:
    """The environment both servers run with: telemetry off, our package importable."""
    # Allowed read of os.environ (tests/unit/test_settings.py): the child process's environment.
    env = dict(os.environ)
    env.update(config.extra_env)
    env["RASA_TELEMETRY_ENABLED"] = "false"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    env["ACTION_PORT"] = str(config.action_port)
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no GPU / CPU-feature notices on start-up
    env.setdefault("SANIC_REQUEST_MAX_SIZE", str(REQUEST_MAX_BYTES))  # read by Sanic itself
    return env


def disable_rasa_telemetry() -> None:
    """Switch telemetry off in Rasa's user config as well (``~/.config/rasa/global.yml``).

    The servers run with ``RASA_TELEMETRY_ENABLED=false``; Rasa writes ``enabled: true``
    into that file whenever it finds none, so a ``rasa`` command run by hand without the
    variable would report. Written only when it is not already off.
    """
    import rasa.telemetry as telemetry
    from rasa.utils.common import read_global_config_value

    current = read_global_config_value(telemetry.CONFIG_FILE_TELEMETRY_KEY) or {}
    if current.get(telemetry.CONFIG_TELEMETRY_ENABLED) is not False:
        telemetry.toggle_telemetry_reporting(False)


def _spawn(name: str, command: List[str], env: Dict[str, str], config: StackConfig) -> int:
    config.log_dir.mkdir(parents=True, exist_ok=True)
    config.run_dir.mkdir(parents=True, exist_ok=True)
    log = (config.log_dir / f"{name}.log").open("ab")
    process = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    (config.run_dir / f"{name}.pid").write_text(str(process.pid))
    return process.pid


def action_command(config: StackConfig) -> List[str]:
    return [sys.executable, "-m", "bot.run", "rasa_sdk", "--actions", "actions", "--port",
            str(config.action_port)]


def default_cors_origins(config: StackConfig, env: Mapping[str, str]) -> List[str]:
    """The demo page's origins (``WEB_PORT``), allowed to call Rasa when CORS_ORIGINS is unset."""
    port = config.web_port or environment(env).web_port
    return demo_origins(port)


def cors_origins(config: StackConfig, env: Mapping[str, str]) -> List[str]:
    """The web origins that may call Rasa from a browser (``CORS_ORIGINS`` or the demo's)."""
    return environment(env).cors_origins.split() or default_cors_origins(config, env)


def web_command(config: StackConfig, env: Mapping[str, str]) -> List[str]:
    rasa_url = environment(env).rasa_public_url or f"http://127.0.0.1:{config.rasa_port}"
    return [sys.executable, "-m", "bot.web", "--port", str(config.web_port),
            "--rasa-url", rasa_url]


def rasa_command(
    config: StackConfig,
    endpoints_file: Path,
    env: Mapping[str, str],
    credentials_file: Optional[Path] = None,
) -> List[str]:
    command = [
        sys.executable, "-m", "bot.run", "rasa", "run",
        "--model", str(config.model),
        "--endpoints", str(endpoints_file),
        "--credentials", str(credentials_file or config.credentials),
        "--port", str(config.rasa_port),
        "--interface", config.interface,
        "--cors", *cors_origins(config, env),
    ]
    token = environment(env).rasa_api_token
    if token:
        command += ["--enable-api", "--auth-token", token]
    return command


def wait_ready(url: str, timeout: float, pid: Optional[int] = None) -> None:
    """Poll ``url`` until it answers 200; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid is not None and not _alive(pid):
            raise RuntimeError(f"the server behind {url} exited; see var/log/")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} was not ready after {timeout:.0f} s; see var/log/")


def _alive(pid: int) -> bool:
    try:
        waited, _status = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def start_actions(config: StackConfig, env: Dict[str, str]) -> int:
    action_env = dict(env, SANIC_HOST="127.0.0.1")
    # Rasa posts the whole conversation to the action server, which only it can reach.
    action_env.pop("SANIC_REQUEST_MAX_SIZE", None)
    pid = _spawn("actions", action_command(config), action_env, config)
    wait_ready(f"http://127.0.0.1:{config.action_port}/health", 60, pid)
    return pid


def start_rasa(config: StackConfig, env: Dict[str, str], timeout: float = 120) -> int:
    endpoints_file = write_endpoints(config.run_dir / "endpoints.yml", env)
    # REST always; each messaging channel only when its environment variables are set
    credentials_file = write_credentials(
        config.run_dir / "credentials.yml", env, template=config.credentials
    )
    # the REST channel refuses browsers on other origins: it reads the same list as --cors
    env = dict(env, CORS_ORIGINS=" ".join(cors_origins(config, env)))
    pid = _spawn("rasa", rasa_command(config, endpoints_file, env, credentials_file), env, config)
    wait_ready(f"http://127.0.0.1:{config.rasa_port}/webhooks/rest/", timeout, pid)
    return pid


def start_web(config: StackConfig, env: Dict[str, str], timeout: float = 30) -> int:
    """The demo page and feedback endpoint (``bot.web``), on ``config.web_port``."""
    if not config.web_port:
        raise RuntimeError("no web port configured; set WEB_PORT")
    pid = _spawn("web", web_command(config, env), env, config)
    wait_ready(f"http://127.0.0.1:{config.web_port}/health", timeout, pid)
    return pid


def sqlite_files(url: Optional[str]) -> List[Path]:
    """A SQLite URL's database file with its ``-wal`` and ``-shm``; nothing for other URLs."""
    if not url or not url.startswith("sqlite:///") or url == "sqlite:///:memory:":
        return []
    database = Path(url[len("sqlite:///"):])
    return [database, Path(f"{database}-wal"), Path(f"{database}-shm")]


def secure_files(run_dir: Path, log_dir: Path, env: Mapping[str, str]) -> List[Path]:
    """Owner-only ``var/`` (umask 077 from now on); the stores and logs in use tightened."""
    variables = environment(env)
    stores = sqlite_files(variables.database_url)
    stores += sqlite_files(variables.tracker_db_url)
    return files.secure(VAR_DIR, run_dir, log_dir, *stores)


def migrate_conversations(env: Mapping[str, str]) -> None:
    """Channel conversations stored under a phone number or chat id get their keyed id."""
    from bot.channels.identity import migrate_tracker

    variables = environment(env)
    migrate_tracker(variables.tracker_url(), variables.database_url, env)


def notify_command() -> List[str]:
    return [sys.executable, "-m", "bot", "notify", "worker"]


def start_notify(config: StackConfig, env: Dict[str, str]) -> int:
    """The notification worker (``bot.notify``): sends the outbox, off the request path."""
    pid = _spawn("notify", notify_command(), env, config)
    time.sleep(0.5)
    if not _alive(pid):
        raise RuntimeError("the notification worker exited at start; see var/log/notify.log")
    return pid


def prepare_database(env: Mapping[str, str]) -> None:
    """Bring the database to the current schema (a dev SQLite file made by an older version)."""
    from bot.migrations import migrate

    migrate(environment(env).database_url)


def start(config: StackConfig) -> Dict[str, int]:
    """Start both servers (and the demo page when a web port is set); wait until each answers."""
    if not config.model.exists():
        raise RuntimeError(f"no trained model at {config.model}; run `make train` first")
    env = server_env(config)
    secure_files(config.run_dir, config.log_dir, env)
    prepare_database(env)
    migrate_conversations(env)
    # the HTTP API (hot swap of models) is always on, on loopback, behind the token
    env[TOKEN_VARIABLE] = ensure_token(env)
    disable_rasa_telemetry()
    started = time.monotonic()
    pids = {"actions": start_actions(config, env)}
    pids["notify"] = start_notify(config, env)
    pids["rasa"] = start_rasa(config, env)
    if config.web_port:
        pids["web"] = start_web(config, env)
    logger.info("servers ready in %.1f s", time.monotonic() - started)
    return pids


def stop_process(name: str, config: StackConfig, timeout: float = 15) -> bool:
    pid_file = config.run_dir / f"{name}.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().strip() or 0)
    pid_file.unlink()
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.2)
    if _alive(pid):
        os.killpg(pid, signal.SIGKILL)
    return True


def stop(config: StackConfig) -> List[str]:
    return [name for name in ("web", "rasa", "notify", "actions") if stop_process(name, config)]


def status_line(config: StackConfig) -> str:
    status = {"rest": config.rest_url, "logs": str(config.log_dir)}
    if config.web_url:
        status["web"] = config.web_url
    return json.dumps(status)
