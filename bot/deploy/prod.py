"""The production set-up on one machine: replicas on PostgreSQL and Redis behind HAProxy.

``make run-prod`` (``python -m bot deploy prod-start``) starts, on loopback:

* PostgreSQL databases ``clinic`` (knowledge base, bookings, staff data, feedback; migrated by
  ``bot.migrations``) and ``clinic_tracker`` (Rasa's SQL tracker store), created if missing;
* Redis as the lock store, with ``bot.runtime.locks.AtomicRedisLockStore`` (rasa#11256);
* N action servers and N Rasa servers (default 2 + 2), each a process of its own;
* HAProxy: the public frontend hashes the REST webhook's JSON ``sender`` onto a Rasa server
  (one conversation, one replica) with a health check on ``/webhooks/rest/``; a second
  frontend balances the action servers for the Rasa servers.

Every process is started the way ``bot.deploy.serve`` starts the single stack (same commands,
environment, logs and pid files), under ``var/run/prod`` and ``var/log/prod``. The
end-to-end tests (``tests/e2e/test_prod*.py``) and the load tests (``loadtest/``) start
exactly this, on other ports and in databases of their own.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import OperationalError

from bot.channels.credentials import write_credentials
from bot.deploy import serve
from bot.deploy.endpoints import endpoints as endpoints_from_env
from bot.settings import PROJECT_ROOT, environment

logger = logging.getLogger(__name__)

PROD_RUN_DIR = serve.VAR_DIR / "run" / "prod"
PROD_LOG_DIR = serve.VAR_DIR / "log" / "prod"
HAPROXY_TEMPLATE = PROJECT_ROOT / "deploy" / "haproxy.cfg"
FALLBACK_MODEL = serve.VAR_DIR / "models-ws" / "ws.tar.gz"

# This set-up's own defaults when DATABASE_URL, TRACKER_DB_URL, REDIS_URL are unset (the
# variables themselves, with the embedded set-up's defaults: bot/settings/environment.py).
PROD_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/clinic"
PROD_TRACKER_DB_URL = "postgresql://postgres@127.0.0.1:5432/clinic_tracker"
PROD_REDIS_URL = "redis://127.0.0.1:6379/0"
ATOMIC_LOCK_STORE = "bot.runtime.locks.AtomicRedisLockStore"
DATABASE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

# Longer than the REST channel's turn limit (credentials.yml, 10 s), so no live turn loses its
# ticket. A killed replica's ticket is dropped after its heartbeat lapses (5 s,
# bot/runtime/locks.py); this lifetime is the bound should the heartbeat check itself fail.
DEFAULT_TICKET_LIFETIME = 15


def default_model() -> Path:
    """``models/current.tar.gz`` when trained, else the workshop model under var/."""
    given = environment().rasa_model
    if given:
        return given
    return serve.DEFAULT_MODEL if serve.DEFAULT_MODEL.exists() else FALLBACK_MODEL


@dataclass
class ProdConfig:
    """Ports, replicas and stores of the production set-up."""

    rasa_replicas: int = 2
    action_replicas: int = 2
    bind: str = "127.0.0.1"
    port: int = 5100
    """HAProxy's public frontend: the REST webhook (and the rest of Rasa's HTTP)."""
    action_port: int = 5150
    """HAProxy's frontend for the Rasa servers' action calls."""
    stats_port: int = 5199
    rasa_ports: List[int] = field(default_factory=lambda: [5101, 5102])
    action_ports: List[int] = field(default_factory=lambda: [5151, 5152])
    model: Path = field(default_factory=default_model)
    database_url: str = PROD_DATABASE_URL
    tracker_db_url: str = PROD_TRACKER_DB_URL
    redis_url: str = PROD_REDIS_URL
    lock_key_prefix: str = "clinic"
    lock_store: str = ATOMIC_LOCK_STORE
    """``redis`` selects Rasa's own RedisLockStore (racy across replicas, see bot.runtime.locks)."""
    ticket_lifetime: int = DEFAULT_TICKET_LIFETIME
    rasa_maxconn: int = 64
    run_dir: Path = PROD_RUN_DIR
    log_dir: Path = PROD_LOG_DIR
    extra_env: Dict[str, str] = field(default_factory=dict)
    start_timeout: float = 240.0

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "ProdConfig":
        env = environment(environ)
        replicas = env.prod_rasa_replicas
        action_replicas = env.prod_action_replicas
        port = env.prod_port
        action_port = env.prod_action_port or port + 50
        return cls(
            rasa_replicas=replicas,
            action_replicas=action_replicas,
            bind=env.prod_bind,
            port=port,
            action_port=action_port,
            stats_port=env.prod_stats_port or port + 99,
            rasa_ports=[port + 1 + index for index in range(replicas)],
            action_ports=[action_port + 1 + index for index in range(action_replicas)],
            model=default_model(),
            database_url=env.explicit("DATABASE_URL") or PROD_DATABASE_URL,
            tracker_db_url=env.explicit("TRACKER_DB_URL") or PROD_TRACKER_DB_URL,
            redis_url=env.redis_url or PROD_REDIS_URL,
            lock_store=env.prod_lock_store or ATOMIC_LOCK_STORE,
            ticket_lifetime=env.ticket_lock_lifetime,
            run_dir=env.prod_run_dir or PROD_RUN_DIR,
            log_dir=env.prod_log_dir or PROD_LOG_DIR,
        )

    @property
    def url(self) -> str:
        """The REST webhook behind HAProxy."""
        return f"http://127.0.0.1:{self.port}/webhooks/rest/webhook"

    @property
    def stats_url(self) -> str:
        return f"http://127.0.0.1:{self.stats_port}/stats"

    def rasa_names(self) -> List[str]:
        return [f"rasa-{index + 1}" for index in range(self.rasa_replicas)]

    def action_names(self) -> List[str]:
        return [f"actions-{index + 1}" for index in range(self.action_replicas)]

    def replica_url(self, name: str) -> str:
        """The REST webhook of one Rasa server, bypassing HAProxy."""
        port = self.rasa_ports[self.rasa_names().index(name)]
        return f"http://127.0.0.1:{port}/webhooks/rest/webhook"

    def stack(self, rasa_port: int = 0, action_port: int = 0) -> serve.StackConfig:
        """A ``serve.StackConfig`` for one process, so the single stack's helpers apply."""
        return serve.StackConfig(
            rasa_port=rasa_port, action_port=action_port, model=self.model,
            run_dir=self.run_dir, log_dir=self.log_dir, extra_env=dict(self.extra_env),
        )


# -- databases ------------------------------------------------------------------------------


def _can_connect(url: str) -> bool:
    engine = create_engine(url, future=True)
    try:
        with engine.connect():
            return True
    except OperationalError:
        return False
    finally:
        engine.dispose()


@contextmanager
def _server_connection(url: str) -> Iterator[Tuple[Connection, str, str]]:
    """An autocommit connection to the server's ``postgres`` database, for creating or
    dropping the database named in ``url``; yields it with that name, plain and quoted."""
    parsed = make_url(url)
    name = parsed.database or ""
    if not DATABASE_NAME.match(name):
        raise ValueError(f"database name {name!r} in the URL must be letters, digits and _")
    admin = create_engine(parsed.set(database="postgres"), future=True,
                          isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            # An identifier cannot be a bound parameter; the name was checked above.
            yield connection, name, admin.dialect.identifier_preparer.quote(name)
    finally:
        admin.dispose()


def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database named in ``url`` when missing; True when created.

    A database that accepts the connection is left alone, so a user without the right to
    create databases (a managed PostgreSQL) can migrate one made for it.
    """
    if make_url(url).get_backend_name() != "postgresql" or _can_connect(url):
        return False
    with _server_connection(url) as (connection, name, quoted):
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        ).first()
        if exists:
            return False
        connection.execute(text(f"CREATE DATABASE {quoted}"))
        logger.info("created database %s", name)
        return True


def drop_database(url: str) -> None:
    """Drop a PostgreSQL database (the tests' own); closes other sessions on it first."""
    with _server_connection(url) as (connection, name, quoted):
        connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                 "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
        connection.execute(text(f"DROP DATABASE IF EXISTS {quoted}"))


def prepare_tracker_schema(url: str) -> None:
    """Create Rasa's ``events`` table before the replicas start, so they do not race to."""
    from rasa.core.tracker_store import SQLTrackerStore

    engine = create_engine(url, future=True)
    try:
        SQLTrackerStore.Base.metadata.create_all(engine)
    finally:
        engine.dispose()


def prepare_databases(config: ProdConfig) -> List[int]:
    """Create both databases if missing, migrate ``clinic``, load the knowledge base."""
    from bot.knowledge import store
    from bot.migrations import migrate

    for url in (config.database_url, config.tracker_db_url):
        ensure_database(url)
    ran = migrate(config.database_url)
    store.sync_topics(store.load_topics_file(), config.database_url)
    prepare_tracker_schema(config.tracker_db_url)
    from bot.channels.identity import migrate_tracker

    # keyed channel conversations, with the servers' key
    migrate_tracker(config.tracker_db_url, config.database_url, prod_env(config))
    return ran


# -- configuration files --------------------------------------------------------------------


def _server_lines(names: List[str], ports: List[int]) -> str:
    return "\n".join(f"    server {name} 127.0.0.1:{port} check"
                     for name, port in zip(names, ports))


def render_haproxy(config: ProdConfig, template: Path = HAPROXY_TEMPLATE) -> str:
    return Template(template.read_text(encoding="utf-8")).substitute(
        run_dir=str(config.run_dir),
        bind=config.bind,
        port=config.port,
        action_port=config.action_port,
        stats_port=config.stats_port,
        rasa_maxconn=config.rasa_maxconn,
        rasa_servers=_server_lines(config.rasa_names(), config.rasa_ports),
        action_servers=_server_lines(config.action_names(), config.action_ports),
    )


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or next(
        (path for path in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if Path(path).exists()),
        None,
    )
    if not found:
        raise RuntimeError("HAProxy is not installed: `apt-get install -y haproxy` "
                           "(make run-prod does it) or put haproxy on PATH")
    return found


def write_haproxy(config: ProdConfig) -> Path:
    """Render the template and let HAProxy check it before anything uses it."""
    config.run_dir.mkdir(parents=True, exist_ok=True)
    path = config.run_dir / "haproxy.cfg"
    path.write_text(render_haproxy(config), encoding="utf-8")
    check = subprocess.run([haproxy_binary(), "-c", "-q", "-f", str(path)],
                           capture_output=True, text=True, check=False)
    if check.returncode != 0:
        raise RuntimeError(f"HAProxy refuses {path}: {check.stderr.strip() or check.stdout}")
    return path


def replica_endpoints(config: ProdConfig, env: Mapping[str, str]) -> Dict[str, Any]:
    """``endpoints.yml`` of every Rasa server: shared stores, actions through HAProxy."""
    result = endpoints_from_env(env)
    lock = dict(result["lock_store"])
    lock["type"] = config.lock_store
    lock["key_prefix"] = config.lock_key_prefix
    result["lock_store"] = lock
    return result


def write_replica_files(config: ProdConfig, env: Mapping[str, str]) -> Dict[str, Path]:
    config.run_dir.mkdir(parents=True, exist_ok=True)
    endpoints_file = config.run_dir / "endpoints.yml"
    endpoints_file.write_text(
        "# Generated by bot/deploy/prod.py from the environment; edit that instead.\n"
        + yaml.safe_dump(replica_endpoints(config, env), sort_keys=False),
        encoding="utf-8",
    )
    credentials_file = write_credentials(
        config.run_dir / "credentials.yml", env, template=serve.StackConfig().credentials
    )
    return {"endpoints": endpoints_file, "credentials": credentials_file}


TF_THREAD_SETTINGS = ("TF_INTER_OP_PARALLELISM_THREADS", "TF_INTRA_OP_PARALLELISM_THREADS",
                      "OMP_NUM_THREADS")


def prod_env(config: ProdConfig) -> Dict[str, str]:
    """What every process of the set-up runs with (on top of ``serve.server_env``)."""
    env = serve.server_env(config.stack())
    env.update({
        "DATABASE_URL": config.database_url,
        "TRACKER_DB_URL": config.tracker_db_url,
        "REDIS_URL": config.redis_url,
        "ACTION_SERVER_URL": f"http://127.0.0.1:{config.action_port}/webhook",
        "TICKET_LOCK_LIFETIME": str(config.ticket_lifetime),
        # HAProxy overwrites X-Forwarded-For with the client's address (deploy/haproxy.cfg).
        "TRUST_PROXY_HEADERS": "1",
    })
    # One core per Rasa replica, as the Kubernetes pods request: left alone, TensorFlow gives
    # every replica thread pools as wide as the machine, and replicas sharing one machine
    # then fight over every core (docs/scaling.md). The environment can say otherwise.
    for name in TF_THREAD_SETTINGS:
        env.setdefault(name, "1")
    env.update(config.extra_env)
    return env


# -- processes ------------------------------------------------------------------------------


def _pid(config: ProdConfig, name: str) -> Optional[int]:
    pid_file = config.run_dir / f"{name}.pid"
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def pids(config: ProdConfig) -> Dict[str, int]:
    """The running processes of the set-up, by name."""
    names = config.action_names() + config.rasa_names() + ["haproxy"]
    found = {name: _pid(config, name) for name in names}
    return {name: pid for name, pid in found.items() if pid and _running(pid)}


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a child of this process that has exited but not been reaped
        waited, _status = os.waitpid(pid, os.WNOHANG)
        return waited != pid
    except ChildProcessError:
        return True


def start_actions(config: ProdConfig, env: Dict[str, str]) -> Dict[str, int]:
    action_env = dict(env, SANIC_HOST="127.0.0.1")
    # As serve.start_actions: Rasa posts the whole conversation, beyond the public body limit.
    action_env.pop("SANIC_REQUEST_MAX_SIZE", None)
    started = {}
    for name, port in zip(config.action_names(), config.action_ports):
        stack = config.stack(action_port=port)
        started[name] = serve._spawn(name, serve.action_command(stack), action_env, stack)
    for name, port in zip(config.action_names(), config.action_ports):
        serve.wait_ready(f"http://127.0.0.1:{port}/health", 60, started[name])
    return started


def start_rasa(config: ProdConfig, env: Dict[str, str]) -> Dict[str, int]:
    """Start every Rasa server at once (they load the model in parallel), then wait."""
    files = write_replica_files(config, env)
    started = {}
    for name, port in zip(config.rasa_names(), config.rasa_ports):
        stack = config.stack(rasa_port=port)
        rasa_env = dict(env, CORS_ORIGINS=" ".join(serve.cors_origins(stack, env)))
        command = serve.rasa_command(stack, files["endpoints"], rasa_env, files["credentials"])
        started[name] = serve._spawn(name, command, rasa_env, stack)
    for name, port in zip(config.rasa_names(), config.rasa_ports):
        serve.wait_ready(f"http://127.0.0.1:{port}/webhooks/rest/", config.start_timeout,
                         started[name])
    return started


def start_haproxy(config: ProdConfig, env: Dict[str, str]) -> int:
    cfg = write_haproxy(config)
    stack = config.stack()
    pid = serve._spawn("haproxy", [haproxy_binary(), "-db", "-f", str(cfg)], env, stack)
    serve.wait_ready(f"http://127.0.0.1:{config.port}/webhooks/rest/", 30, pid)
    wait_backends_up(config, timeout=30)
    return pid


def start(config: ProdConfig) -> Dict[str, Any]:
    """Start the whole set-up and wait until HAProxy sees every server up."""
    if not config.model.exists():
        raise RuntimeError(f"no trained model at {config.model}; run `make train` or set RASA_MODEL")
    from bot.frontdesk.placeholders import refuse_placeholders

    refuse_placeholders(prod_env(config))
    stop(config)
    serve.secure_files(config.run_dir, config.log_dir, {})  # var/ owner-only, umask 077
    timings: Dict[str, float] = {}
    began = time.monotonic()
    migrations = prepare_databases(config)
    timings["databases_s"] = time.monotonic() - began
    env = prod_env(config)
    mark = time.monotonic()
    processes = start_actions(config, env)
    timings["actions_s"] = time.monotonic() - mark
    mark = time.monotonic()
    processes.update(start_rasa(config, env))
    timings["rasa_s"] = time.monotonic() - mark
    processes["notify"] = serve.start_notify(config.stack(), env)
    processes["haproxy"] = start_haproxy(config, env)
    timings["total_s"] = time.monotonic() - began
    logger.info("production set-up ready in %.1f s", timings["total_s"])
    return {"pids": processes, "migrations": migrations, "timings": timings}


def stop(config: ProdConfig) -> List[str]:
    """Stop HAProxy first (no new requests), then the Rasa servers, then the action servers."""
    stack = config.stack()
    names = ["haproxy"] + config.rasa_names() + config.action_names()
    # Also replicas of a larger set-up started earlier with the same run directory.
    names += sorted({path.stem for path in config.run_dir.glob("*.pid")} - set(names))
    return [name for name in names if serve.stop_process(name, stack)]


def kill(config: ProdConfig, name: str) -> int:
    """``kill -9`` one process of the set-up (the failover drill); returns its pid."""
    pid = _pid(config, name)
    if not pid:
        raise RuntimeError(f"{name} is not running (no pid file in {config.run_dir})")
    os.kill(pid, signal.SIGKILL)
    return pid


# -- observation ----------------------------------------------------------------------------


def _stats_rows(config: ProdConfig) -> List[Dict[str, str]]:
    with urllib.request.urlopen(config.stats_url + ";csv", timeout=5) as response:  # noqa: S310
        return list(csv.DictReader(io.StringIO(response.read().decode().lstrip("# "))))


def backend_status(config: ProdConfig) -> Dict[str, str]:
    """HAProxy's view of each server (``UP``, ``DOWN``...), from the stats page's CSV."""
    return {row["svname"]: row["status"] for row in _stats_rows(config)
            if row["svname"] not in ("FRONTEND", "BACKEND")}


def rasa_backend_counters(config: ProdConfig) -> Dict[str, int]:
    """What HAProxy did for the Rasa backend: requests, retries, redispatches, errors."""
    row = next(r for r in _stats_rows(config) if r["pxname"] == "rasa" and r["svname"] == "BACKEND")
    names = {"stot": "sessions", "wretr": "retries", "wredis": "redispatches",
             "econ": "connection_errors", "eresp": "response_errors"}
    return {label: int(row.get(field) or 0) for field, label in names.items()}


def wait_backends_up(config: ProdConfig, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    status: Dict[str, str] = {}
    while time.monotonic() < deadline:
        try:
            status = backend_status(config)
        except OSError:
            status = {}
        wanted = config.rasa_names() + config.action_names()
        if status and all(status.get(name) == "UP" for name in wanted):
            return
        time.sleep(0.25)
    raise RuntimeError(f"HAProxy does not see every server up after {timeout:.0f} s: {status}")


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def status(config: ProdConfig) -> Dict[str, Any]:
    running = pids(config)
    result: Dict[str, Any] = {
        "url": config.url,
        "processes": {name: {"pid": pid, "rss_mb": round(rss_mb(pid), 1)}
                      for name, pid in running.items()},
    }
    if "haproxy" in running:
        result["haproxy"] = backend_status(config)
    return result


@dataclass
class Turn:
    """One user message in the tracker and what the assistant did about it."""

    text: str
    intent: str
    bot_topics: List[str] = field(default_factory=list)
    bot_messages: int = 0
    listened: bool = False
    """The turn ended with ``action_listen``: Rasa finished it."""


def tracker_turns(tracker_db_url: str, sender: str) -> Dict[str, Any]:
    """A conversation as Rasa stored it (``events``, in insertion order), cut into turns."""
    import json

    engine = create_engine(tracker_db_url, future=True)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT type_name, action_name, data FROM events "
                     "WHERE sender_id = :sender ORDER BY id"), {"sender": sender}
            ).all()
    finally:
        engine.dispose()
    turns: List[Turn] = []
    sessions = 0
    for type_name, action_name, data in rows:
        event = json.loads(data)
        if type_name == "session_started":
            sessions += 1
        elif type_name == "user":
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name") or ""
            turns.append(Turn(text=str(event.get("text") or ""), intent=str(intent)))
        elif turns and type_name == "bot":
            turns[-1].bot_messages += 1
            topic = ((event.get("data") or {}).get("custom") or {}).get("topic")
            if topic:
                turns[-1].bot_topics.append(str(topic))
        elif turns and type_name == "action" and action_name == "action_listen":
            turns[-1].listened = True
    return {"sessions": sessions, "events": len(rows), "turns": turns}
