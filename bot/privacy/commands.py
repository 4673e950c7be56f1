"""``python -m bot privacy``: the retention job, erasure on request, the audit trail.

    python -m bot privacy retention [--days N]
    python -m bot privacy erase --sender ID        (a chat's conversation id)
    python -m bot privacy erase --booking HF-XXXXXX
    python -m bot privacy audit [--sender ID] [--limit N]
"""

from __future__ import annotations

import argparse
from typing import Optional

from bot.privacy import audit
from bot.privacy.erase import CLI, Erasure, ErasureError, erase_booking, erase_sender
from bot.privacy.retention import RetentionError, run_retention
from bot.cli import positive_int


def _retention(args: argparse.Namespace) -> int:
    try:
        done = run_retention(days=args.days, via=CLI)
    except RetentionError as error:
        raise RuntimeError(str(error)) from None
    print(
        f"Kept the last {done.days} day(s) (since {done.cutoff:%Y-%m-%d %H:%M} UTC): deleted "
        f"{done.conversations} conversation(s) ({done.events} event(s)), {done.bookings} "
        f"closed booking request(s) and {done.feedback} vote(s)."
    )
    return 0


def _describe(done: Erasure) -> str:
    references = f" ({', '.join(done.references)})" if done.references else ""
    return (
        f"Erased {done.conversations} conversation(s) ({done.events} event(s)), "
        f"{done.bookings} booking request(s){references} and {done.feedback} vote(s). "
        "The audit trail records that this happened, not what was erased."
    )


def _erase(args: argparse.Namespace) -> int:
    result: Optional[Erasure]
    try:
        if args.booking:
            result = erase_booking(args.booking, via=CLI)
            if result is None:
                raise ValueError(
                    f"no booking request has the reference {args.booking!r}; "
                    "check it with `python -m bot bookings list`"
                )
        else:
            result = erase_sender(args.sender, via=CLI)
    except ErasureError as error:
        raise RuntimeError(str(error)) from None
    print(_describe(result))
    return 0


def _audit(args: argparse.Namespace) -> int:
    rows = audit.entries(subject=args.sender, limit=args.limit)
    if not rows:
        print("No privacy actions recorded" + (" for that conversation." if args.sender else "."))
        return 0
    print("when (UTC)        action     via    conversations  events  bookings  votes")
    for row in rows:
        print(f"{row.at:%Y-%m-%d %H:%M}  {row.action:<9}  {row.via:<5}  {row.conversations:>13}"
              f"  {row.events:>6}  {row.bookings:>8}  {row.feedback:>5}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("privacy", help="retention job, erasure on request, audit")
    commands = parser.add_subparsers(dest="command", required=True)

    retention = commands.add_parser(
        "retention", help="delete conversations and closed booking requests older than N days"
    )
    retention.add_argument("--days", type=positive_int,
                           help="days to keep (default: privacy.retention_days, 90)")
    retention.set_defaults(handler=_retention)

    erase = commands.add_parser("erase", help="erase a person's conversation and bookings")
    target = erase.add_mutually_exclusive_group(required=True)
    target.add_argument("--sender", metavar="ID", help="the conversation (sender) id")
    target.add_argument("--booking", metavar="REF", help="a booking reference, e.g. HF-7K3Q9P")
    erase.set_defaults(handler=_erase)

    trail = commands.add_parser("audit", help="list recorded erasures and retention runs")
    trail.add_argument("--sender", metavar="ID", help="only erasures of this conversation")
    trail.add_argument("--limit", type=positive_int, default=50, help="newest N rows (50)")
    trail.set_defaults(handler=_audit)
