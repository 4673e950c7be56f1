"""``python -m bot staff ...``: the staff loop on the command line.

Who is acting: ``--user NAME`` (or ``STAFF_USER``); the password is asked for on a terminal,
or read from ``STAFF_PASSWORD`` for scripts. A new account's password is asked for, read from
standard input (``--password-stdin``) or from ``STAFF_NEW_PASSWORD``. Every command calls the
same core functions as the web page.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Optional

from bot.settings import get_settings
from bot.staff import changes, deploy, inbox, users
from bot.staff.project import Project
from bot.staff.store import audit_log


NEW_PASSWORD = "STAFF_NEW_PASSWORD"


def _project() -> Project:
    return Project.from_env()


def _on_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _ask(prompt: str, variable: str) -> str:
    """A password typed at the terminal; without one, say how else to give it."""
    if not _on_terminal():
        raise ValueError(f"No terminal to ask for the password: set {variable}"
                         + (" or use --password-stdin." if variable == NEW_PASSWORD else "."))
    return getpass.getpass(prompt)


def _login(args: argparse.Namespace, project: Project) -> users.User:
    env = get_settings().env
    username = args.user or env.staff_user
    if not username:
        raise ValueError("Say who you are: --user NAME (or set STAFF_USER).")
    password = env.staff_password
    if password is None:
        password = _ask(f"Password for {username}: ", "STAFF_PASSWORD")
    try:
        return users.authenticate(project.database_url, username, password)
    except users.AuthenticationFailed as error:
        raise ValueError(str(error)) from error


def _inbox(args: argparse.Namespace) -> int:
    from datetime import date

    from bot.staff.topics import topic_names

    project = _project()
    try:
        since = date.fromisoformat(args.since) if args.since else None
        until = date.fromisoformat(args.until) if args.until else None
    except ValueError:
        raise ValueError("Dates are YYYY-MM-DD, e.g. --since 2026-12-01.") from None
    filters = inbox.InboxFilter(reason=args.reason or "", topic=args.topic or "", since=since,
                                until=until, search=args.search or "")
    found = inbox.inbox_page(project, _login(args, project), filters, args.page, args.limit,
                             args.threshold, args.all)
    groups = found.groups
    if not groups:
        print("No message matches these filters." if any((args.reason, args.topic, since, until,
                                                          args.search))
              else "The inbox is empty: nothing the assistant was unsure about.")
        return 0
    names = topic_names(project)
    print(f"Page {found.page} of {found.pages}: {found.total_groups} group(s), "
          f"{found.total_messages} message(s), newest first.")
    for number, group in enumerate(groups, start=(found.page - 1) * args.limit + 1):
        more = f"  (+{group.size - 1} similar)" if group.size > 1 else ""
        print(f"{number:3d}. [{', '.join(group.reasons)}]{more}")
        for message in group.messages[: args.show]:
            label = f"  -> labelled {message.labelled_as}" if message.labelled_as else ""
            print(f"     #{message.event_id} {message.at:%Y-%m-%d %H:%M} {message.conversation} "
                  f"guessed \"{names.get(message.topic, message.topic)}\" {message.confidence:.2f}: "
                  f"{message.text}{label}")
        if len(group.messages) > args.show:
            ids = " ".join(str(i) for i in group.ids)
            print(f"     ... all ids: {ids}")
    if found.page < found.pages:
        print(f"\nOlder groups: --page {found.page + 1}")
    print("\nLabel with: python -m bot staff label ID [ID ...] --topic TOPIC "
          "(topics: python -m bot staff topics)")
    return 0


def _topics(args: argparse.Namespace) -> int:
    from bot.staff.topics import label_options

    project = _project()
    users.require(_login(args, project), "read_inbox")
    offered = set(changes.label_choices(project))
    for choice in label_options(project):
        if choice.id in offered:
            print(f"{choice.id:24s} {choice.title}\n{'':24s} {choice.description}")
    return 0


def _label(args: argparse.Namespace) -> int:
    project = _project()
    change = changes.label(project, _login(args, project), args.ids, args.topic, args.text)
    added = change.payload["examples"]
    print(f"Change {change.id}: {change.summary}; {len(added)} new example(s) added "
          f"to {project.staff_examples_file.relative_to(project.root)}.")
    for example in added:
        print(f"  - {example}")
    print("Run `python -m bot staff retrain` to put it live.")
    return 0


def _add_topic(args: argparse.Namespace) -> int:
    project = _project()
    source = None
    if args.source_citation:
        source = {"citation": args.source_citation, "url": args.source_url or ""}
    change = changes.propose_topic(
        project, _login(args, project), args.id, args.title, args.answer, args.quote,
        args.example, args.from_message, source, args.follow_up, args.section or "")
    print(f"Change {change.id} is waiting for a clinician's approval: {change.summary}.")
    print(f"A clinician approves it with: python -m bot staff approve {change.id}")
    return 0


def _change_answer(args: argparse.Namespace) -> int:
    project = _project()
    change = changes.propose_answer(project, _login(args, project), args.topic, args.answer, args.quote)
    print(f"Change {change.id} is waiting for a clinician's approval: {change.summary}.")
    return 0


def _approve(args: argparse.Namespace) -> int:
    project = _project()
    user = _login(args, project)
    if changes.self_approval_allowed():
        print(f"Note: self-approval is ON (staff.{changes.SELF_APPROVAL_SETTING}): a clinician can "
              "approve their own answer changes; each one is marked in the audit log.")
    if args.change is None:
        waiting = changes.pending(project, user)
        if not waiting:
            print("Nothing is waiting for approval.")
        for change in waiting:
            print(f"#{change.id} [{change.needs_role} approval] {change.summary} "
                  f"(by {change.created_by}, {change.created_at:%Y-%m-%d %H:%M})")
            if change.kind == changes.NEW_TOPIC:
                topic = change.payload["topic"]
                print(f"    answer: {topic['answer']}")
                print(f"    quotes: {' | '.join(topic['quotes'])}")
                if topic.get("source"):
                    print(f"    source: {topic['source']['citation']} {topic['source'].get('url') or ''}")
                print(f"    examples: {' | '.join(change.payload['examples'])}")
            elif change.kind == changes.ANSWER:
                print(f"    now: {change.payload['old_answer']}")
                print(f"    new: {change.payload['answer']}")
        return 0
    if args.reject:
        change = changes.reject(project, user, args.change, args.reason or "")
        print(f"Change {change.id} rejected.")
        return 0
    change = changes.approve(project, user, args.change)
    print(f"Change {change.id} approved and applied: {change.summary}.")
    if change.kind == changes.NEW_TOPIC:
        print("Run `python -m bot staff retrain` to teach the assistant the new topic.")
    return 0


def _retrain(args: argparse.Namespace) -> int:
    project = _project()
    report = deploy.retrain(
        project, _login(args, project), with_tests=args.with_tests, force_full=args.full,
        max_drop=args.allow_drop,
        strict_crisis=args.crisis_rule == "strict", probe=args.probe,
        progress=lambda text: print(text, flush=True))
    print(report.text())
    return 0 if report.ok else 1


def _rollback(args: argparse.Namespace) -> int:
    project = _project()
    report = deploy.rollback(project, _login(args, project), args.to, probe=args.probe)
    print(report.text())
    return 0


def _history(args: argparse.Namespace) -> int:
    project = _project()
    models = deploy.history(project, _login(args, project))
    if not models:
        print("No model history yet: nothing has been retrained or rolled back here.")
    for model in models:
        accuracy = f"{model.accuracy:.3f}" if model.accuracy is not None else "  -  "
        crisis = f"{model.crisis_recall:.2f}" if model.crisis_recall is not None else " -  "
        print(f"{model.created_at:%Y-%m-%d %H:%M}  {model.status:11s} {model.mode:8s} "
              f"accuracy {accuracy} crisis {crisis}  {model.name}  by {model.created_by}"
              + (f"  ({model.note[:80]})" if model.note and model.status == deploy.REFUSED else ""))
    return 0


def _audit(args: argparse.Namespace) -> int:
    project = _project()
    users.require(_login(args, project), "read_inbox")
    entries = audit_log(project.database_url, args.limit)
    if not entries:
        print("The audit log is empty: no staff action has been recorded yet.")
    for entry in entries:
        print(f"{entry.at:%Y-%m-%d %H:%M:%S}  {entry.username:12s} {entry.action:16s} "
              f"{entry.target}  {entry.details}")
    return 0


def _users_add(args: argparse.Namespace) -> int:
    project = _project()
    actor: Optional[users.User] = None
    if users.user_count(project.database_url) > 0:
        actor = _login(args, project)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise ValueError("--password-stdin read no password (one line on standard input).")
    elif get_settings().env.staff_new_password is not None:
        password = str(get_settings().env.staff_new_password)
    else:
        password = _ask(f"New password for {args.name}: ", NEW_PASSWORD)
        if getpass.getpass("Again: ") != password:
            raise ValueError("The two passwords differ.")
    user = users.add_user(project.database_url, actor, args.name, args.role, password)
    print(f"Account {user.username} ({user.role}) created.")
    return 0


def _users_list(args: argparse.Namespace) -> int:
    project = _project()
    users.require(_login(args, project), "read_inbox")
    accounts = users.list_users(project.database_url)
    if not accounts:
        print("No staff accounts yet: create the first with `python -m bot staff users add`.")
    for user in accounts:
        print(f"{user.username:20s} {user.role}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from bot.staff import insight

    days = insight.parse_since(args.since)
    project = _project()
    found = insight.report(project, _login(args, project), days)
    print(f"The assistant over the last {days} days (since {found.since:%Y-%m-%d}, UTC; counts only)")
    for chart in found.charts:
        print()
        print(chart.text())
    if args.csv:
        args.csv.mkdir(parents=True, exist_ok=True)
        for chart in found.charts:
            (args.csv / f"{chart.key}-{days}d.csv").write_text(chart.csv(), encoding="utf-8")
        print(f"\nCSV files written to {args.csv}/")
    return 0


def _web(args: argparse.Namespace) -> int:
    from bot.staff.web import serve

    serve(_project(), port=args.port)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    text = "clinic staff: inbox, label, approve, retrain"
    parser = subparsers.add_parser("staff", help=text, description=text)
    commands = parser.add_subparsers(dest="command", required=True)

    def add(name: str, handler, text: str) -> argparse.ArgumentParser:  # type: ignore[no-untyped-def]
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("--user", help="your staff user name (default: $STAFF_USER)")
        sub.set_defaults(handler=handler)
        return sub

    sub = add("inbox", _inbox, "messages the assistant was unsure about or got wrong")
    sub.add_argument("--threshold", type=float, help="confidence below which a message is shown")
    sub.add_argument("--all", action="store_true", help="include messages already labelled")
    sub.add_argument("--limit", type=int, default=20, help="groups per page (20)")
    sub.add_argument("--page", type=int, default=1, help="which page (1: the newest)")
    sub.add_argument("--reason", choices=sorted(inbox.REASON_CHOICES),
                     help="only messages shown for this reason")
    sub.add_argument("--topic", help="only messages the assistant guessed as this topic id")
    sub.add_argument("--since", help="from this day, YYYY-MM-DD")
    sub.add_argument("--until", help="to this day, YYYY-MM-DD")
    sub.add_argument("--search", help="only messages with these words")
    sub.add_argument("--show", type=int, default=3, help="messages to show per group")

    add("topics", _topics, "the topics a message can be labelled with: id, title, description")

    sub = add("label", _label, "teach the assistant which topic messages belong to")
    sub.add_argument("ids", type=int, nargs="+", help="message ids from the inbox")
    sub.add_argument("--topic", required=True, help="a topic id, or out_of_scope")
    sub.add_argument("--text", help="use this reworded question instead of the message")

    sub = add("add-topic", _add_topic, "propose a new FAQ topic (a clinician approves the answer)")
    sub.add_argument("--id", required=True, help="new topic id, lower_snake_case")
    sub.add_argument("--title", required=True, help="the question, as a button would show it")
    sub.add_argument("--answer", required=True)
    sub.add_argument("--quote", action="append", required=True,
                     help="supporting quote, word for word (repeat for more)")
    sub.add_argument("--source-citation", help="when the quote is not from the article: its source")
    sub.add_argument("--source-url")
    sub.add_argument("--section", help="the article heading the answer comes from")
    sub.add_argument("--example", action="append", default=[], help="an example question (repeat)")
    sub.add_argument("--from-message", type=int, action="append", default=[],
                     help="an inbox message id to use as an example (repeat)")
    sub.add_argument("--follow-up", action="append", default=[], help="a related topic id (repeat)")

    sub = add("change-answer", _change_answer, "propose a new answer text (a clinician approves it)")
    sub.add_argument("topic")
    sub.add_argument("--answer", required=True)
    sub.add_argument("--quote", action="append", default=[])

    sub = add("approve", _approve, "list pending changes, or approve / reject one")
    sub.add_argument("change", type=int, nargs="?")
    sub.add_argument("--reject", action="store_true")
    sub.add_argument("--reason")

    sub = add("retrain", _retrain, "train, check and, if the checks pass, put the new model live")
    sub.add_argument("--with-tests", action="store_true", help="also run the unit tests")
    sub.add_argument("--full", action="store_true", help="train from scratch, never fine-tune")
    sub.add_argument("--allow-drop", type=float, default=deploy.DEFAULT_MAX_DROP,
                     help="accuracy drop tolerated on the held-out set "
                          f"(default {deploy.DEFAULT_MAX_DROP}: retraining noise)")
    sub.add_argument("--crisis-rule", choices=("strict", "no-regression"), default="strict",
                     help="strict (default): 100%% crisis recall on the held-out set; no-regression: "
                     "never miss a crisis message the live model recognises")
    sub.add_argument("--probe", action="store_true", help="measure failed requests during the swap")

    sub = add("rollback", _rollback, "put the previous model back (no training)")
    sub.add_argument("--to", help="a model name from `history`")
    sub.add_argument("--probe", action="store_true")

    add("history", _history, "models that were live, newest first")
    sub = add("audit", _audit, "who changed what, when")
    sub.add_argument("--limit", type=int, default=50)

    sub = add("users", lambda _a: 0, "staff accounts: add one, list them")
    user_commands = sub.add_subparsers(dest="users_command", required=True)
    text = "create an account (the very first needs no login; later ones a clinician's)"
    add_user = user_commands.add_parser(
        "add", help=text, description=text,
        epilog=f"The new password (at least {users.MIN_PASSWORD} characters) is asked for on a "
               "terminal. Scripts pass it on standard input with --password-stdin, or in the "
               f"environment variable {NEW_PASSWORD}. The acting clinician's own password comes "
               "from the terminal or STAFF_PASSWORD.")
    add_user.add_argument("name", help="the new user name (lower case)")
    add_user.add_argument("--role", choices=users.ROLES, required=True)
    add_user.add_argument("--user", help="your (clinician) user name (default: $STAFF_USER)")
    add_user.add_argument("--password-stdin", action="store_true",
                          help="read the new password from the first line of standard input")
    add_user.set_defaults(handler=_users_add)
    text = "accounts and roles"
    list_users = user_commands.add_parser("list", help=text, description=text)
    list_users.add_argument("--user", help="your staff user name (default: $STAFF_USER)")
    list_users.set_defaults(handler=_users_list)

    sub = add("report", _report, "how the assistant is doing: the dashboard's figures, counts only")
    sub.add_argument("--since", default="30d", help="how many days back: 7d, 30d, 90d... (30d)")
    sub.add_argument("--csv", type=Path, help="also write one CSV file per chart into this folder")

    sub = add("web", _web, "start the staff web page on 127.0.0.1:$STAFF_PORT (8090)")
    sub.add_argument("--port", type=int, default=get_settings().env.staff_port)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: python -m bot staff ...")
