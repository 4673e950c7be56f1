"""``python -m bot``: the project's command line. Each feature adds its own commands."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import List, Optional

# Modules exposing ``register(subparsers)``; each adds one command group.
COMMAND_MODULES = (
    "bot.knowledge.commands",
    "bot.deploy.commands",
    "bot.booking.commands",
    "bot.staff.commands",
    "bot.privacy.commands",
    "bot.notify.commands",
)


def positive_int(text: str) -> int:
    """An argparse type: a whole number of 1 or more, with a clear message otherwise."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {number}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    subparsers = parser.add_subparsers(dest="group", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name and name.startswith(error.name):
                continue  # that feature is not installed in this tree
            raise
        module.register(subparsers)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from bot.deploy.files import private_umask

    private_umask()  # stores, logs and exports this command writes are owner-only
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (ValueError, RuntimeError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
