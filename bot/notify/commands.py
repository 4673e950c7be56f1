"""``python -m bot notify``: run the notification worker, or show the outbox."""

from __future__ import annotations

import argparse

from bot.booking import outbox


def _worker(args: argparse.Namespace) -> int:
    from bot.notify.worker import main

    return main()


def _status(args: argparse.Namespace) -> int:
    from bot.booking.store import require_schema

    require_schema()
    counts = outbox.counts()
    if not counts:
        print("The outbox is empty.")
    for status in sorted(counts):
        print(f"{status:8} {counts[status]}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("notify", help="notifications to the clinic (outbox, worker)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("worker", help="send the outbox until stopped (make run starts it)") \
        .set_defaults(handler=_worker)
    commands.add_parser("status", help="how many notifications are pending, sent, failed") \
        .set_defaults(handler=_status)
