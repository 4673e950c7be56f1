"""``python -m bot``: the project's command line. Each feature adds its own commands."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import List, Optional

from bot import quiet

# Modules exposing ``register(subparsers)``; each adds one command group.
COMMAND_MODULES = (
    "bot.knowledge.commands",
    "bot.deploy.commands",
    "bot.staff.booking_commands",
    "bot.staff.commands",
    "bot.privacy.commands",
    "bot.notify.commands",
    "bot.settings.commands",
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
    quiet.quiet()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from bot.files import private_umask

    private_umask()  # stores, logs and exports this command writes are owner-only
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("stopped.", file=sys.stderr)
        return 130
    except EOFError:
        print("error: the input ended before a value was given.", file=sys.stderr)
        return 2
    except (ValueError, RuntimeError, OSError) as error:
        print(f"error: {one_line(error)}", file=sys.stderr)
        return 2
    except Exception as error:
        if not _is_database_error(error):
            raise
        print(f"error: the database could not be used: {one_line(error)}", file=sys.stderr)
        return 2


def one_line(error: BaseException) -> str:
    """An error's message on one line (databases add SQL and a background link after it)."""
    text = str(getattr(error, "orig", None) or error).strip()
    return (text.splitlines() or [type(error).__name__])[0]


def _is_database_error(error: Exception) -> bool:
    from sqlalchemy.exc import SQLAlchemyError

    return isinstance(error, SQLAlchemyError)
