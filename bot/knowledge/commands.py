"""``python -m bot kb``: check, load and generate rules from the knowledge base."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.knowledge.rules import RULES_FILE, render_rules, write_rules
from bot.knowledge.store import TOPICS_FILE, load_topics_file, sync_topics


def _check(args: argparse.Namespace) -> int:
    topics = load_topics_file(Path(args.file))
    print(f"{len(topics)} topics, every quote verbatim in the article.")
    return 0


def _load(args: argparse.Namespace) -> int:
    from bot.migrations import migrate

    topics = load_topics_file(Path(args.file))
    migrate()  # the tables are the migrations' (a no-op on a migrated database)
    count = sync_topics(topics)
    print(f"Loaded {count} topics into the knowledge database.")
    return 0


def _rules(args: argparse.Namespace) -> int:
    ids = [t.id for t in load_topics_file(Path(args.file))]
    if args.check:
        current = RULES_FILE.read_text(encoding="utf-8") if RULES_FILE.exists() else ""
        if current != render_rules(ids):
            print(f"{RULES_FILE} is out of date: run `python -m bot kb rules`.")
            return 1
        print(f"{RULES_FILE} is up to date.")
        return 0
    print(f"Wrote {write_rules(ids)}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("kb", help="knowledge base")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, handler, text in (
        ("check", _check, "validate topics.yml (quotes must be verbatim)"),
        ("load", _load, "copy topics.yml into the database"),
        ("rules", _rules, "regenerate data/rules_knowledge.yml"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--file", default=str(TOPICS_FILE))
        sub.set_defaults(handler=handler)
        if name == "rules":
            sub.add_argument("--check", action="store_true", help="fail if out of date")
