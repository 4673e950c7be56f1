"""``python -m bot deploy``: write endpoints, start and stop the servers."""

from __future__ import annotations

import argparse
import time

from bot.deploy import serve
from bot.deploy.endpoints import write_endpoints


def _start(args: argparse.Namespace) -> int:
    config = serve.StackConfig.from_env()
    serve.stop(config)
    began = time.monotonic()
    serve.start(config)
    print(f"Assistant ready in {time.monotonic() - began:.1f} s.")
    print(f"  REST:  POST {config.rest_url}  body {{\"sender\": \"me\", \"message\": \"hi\"}}")
    print("  Shell: make shell      Stop: make stop      Logs: var/log/")
    return 0


def _stop(args: argparse.Namespace) -> int:
    stopped = serve.stop(serve.StackConfig.from_env())
    print("Stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def _endpoints(args: argparse.Namespace) -> int:
    print(f"Wrote {write_endpoints(serve.VAR_DIR / 'run' / 'endpoints.yml')}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("deploy", help="run the servers")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, handler, text in (
        ("start", _start, "start the action server and the Rasa server in the background"),
        ("stop", _stop, "stop what start started"),
        ("endpoints", _endpoints, "write var/run/endpoints.yml from the environment"),
    ):
        commands.add_parser(name, help=text).set_defaults(handler=handler)
