"""``python -m bot deploy``: write endpoints, start and stop the servers."""

from __future__ import annotations

import argparse
import time

from bot.deploy import serve
from bot.deploy.endpoints import write_endpoints


def _start(args: argparse.Namespace) -> int:
    from bot.frontdesk.placeholders import warning

    notice = warning()
    if notice:
        print(notice)
    config = serve.StackConfig.from_env()
    serve.stop(config)
    began = time.monotonic()
    serve.start(config)
    print(f"Assistant ready in {time.monotonic() - began:.1f} s.")
    print(f"  REST:  POST {config.rest_url}  body {{\"sender\": \"me\", \"message\": \"hi\"}}")
    if config.web_url:
        print(f"  Web:   {config.web_url}  (demo clinic page with the chat widget)")
    print("  Shell: make shell      Stop: make stop      Logs: var/log/")
    return 0


def _stop(args: argparse.Namespace) -> int:
    stopped = serve.stop(serve.StackConfig.from_env())
    print("Stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def _endpoints(args: argparse.Namespace) -> int:
    print(f"Wrote {write_endpoints(serve.VAR_DIR / 'run' / 'endpoints.yml')}")
    return 0


def _prod_start(args: argparse.Namespace) -> int:
    from bot.deploy import prod

    config = prod.ProdConfig.from_env()
    began = time.monotonic()
    started = prod.start(config)
    print(f"Production set-up ready in {time.monotonic() - began:.1f} s: "
          f"{config.rasa_replicas} Rasa + {config.action_replicas} action servers behind HAProxy.")
    if started["migrations"]:
        print(f"  Migrated {config.database_url} to version {max(started['migrations'])}.")
    print(f"  REST:   POST {config.url}  body {{\"sender\": \"me\", \"message\": \"hi\"}}")
    print(f"  HAProxy stats: {config.stats_url}   Logs: {config.log_dir}   Stop: make stop-prod")
    return 0


def _prod_stop(args: argparse.Namespace) -> int:
    from bot.deploy import prod

    stopped = prod.stop(prod.ProdConfig.from_env())
    print("Stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def _prod_status(args: argparse.Namespace) -> int:
    import json

    from bot.deploy import prod

    print(json.dumps(prod.status(prod.ProdConfig.from_env()), indent=2))
    return 0


def _check_placeholders(args: argparse.Namespace) -> int:
    from bot.frontdesk.placeholders import refuse_placeholders

    refuse_placeholders()
    print("Clinic settings: no placeholder links or phone numbers.")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from bot.deploy.prod import ensure_database
    from bot.migrations import applied_versions, migrate
    from bot.settings import get_settings

    url = get_settings().database_url
    ensure_database(url)
    ran = migrate(url)
    if "TRACKER_DB_URL" in get_settings().env.given:
        from bot.channels.identity import migrate_tracker

        migrate_tracker(get_settings().env.tracker_url(), url)  # keyed channel conversations
    print(f"Applied migrations {ran}; the database is at version {max(applied_versions(url))}."
          if ran else f"Nothing to do; the database is at version {max(applied_versions(url))}.")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("deploy", help="run the servers")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, handler, text in (
        ("start", _start, "start the action server, the Rasa server and the demo page"),
        ("stop", _stop, "stop what start started"),
        ("endpoints", _endpoints, "write var/run/endpoints.yml from the environment"),
        ("prod-start", _prod_start, "start the production set-up (PostgreSQL, Redis, HAProxy)"),
        ("prod-stop", _prod_stop, "stop what prod-start started"),
        ("prod-status", _prod_status, "processes, memory and HAProxy's view of the servers"),
        ("migrate", _migrate, "create DATABASE_URL's database if missing and migrate it"),
        ("check-placeholders", _check_placeholders,
         "fail while the clinic settings hold .example links or 555 numbers (production)"),
    ):
        commands.add_parser(name, help=text).set_defaults(handler=handler)
