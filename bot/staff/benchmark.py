"""``python -m bot.staff.benchmark``: how long the inbox takes to open on a big conversation log.

Seeds a temporary tracker store (SQLite, Rasa's ``events`` table) with ``--events`` events in
conversations like real ones (greeting, questions, actions, bot replies, some booking slots),
then opens the inbox as staff do: the first open (which builds the inbox's index and encodes
the messages it shows), a second open with a few new messages since, and filtered and paged
opens. Prints the times as JSON. A benchmark, not a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

from sqlalchemy import insert

from bot.db import get_engine
from bot.migrations import migrate
from bot.staff import inbox
from bot.staff.project import Project, sandbox_copy
from bot.staff.users import STAFF, User

QUESTIONS = [
    ("what is the gut brain axis", "gut_brain_axis"), ("does kombucha help with anxiety", "diet"),
    ("how much does a visit cost", "out_of_scope"), ("can you spay my puppy", "out_of_scope"),
    ("which probiotics help depression", "probiotic_strains"), ("what is butyrate", "scfa"),
    ("is fmt safe", "fmt"), ("do you take insurance", "out_of_scope"),
    ("what foods are prebiotics", "prebiotics"), ("why does stress upset my stomach", "stress_harms_gut"),
    ("what's the weather tomorrow", "out_of_scope"), ("can diet change my gut bacteria", "diet"),
    ("is ibs linked to anxiety", "ibs"), ("how do I book", "book_appointment"),
]


def seed(url: str, events: int, seed_value: int = 7) -> int:
    """Write about ``events`` events; the number of user messages written."""
    rng = random.Random(seed_value)  # noqa: S311 (test data, not secrets)
    engine = get_engine(url)
    inbox.EVENTS.metadata.create_all(engine)
    rows: List[Dict[str, Any]] = []
    clock = time.time() - 30 * 86400
    users = 0
    conversation = 0
    while len(rows) < events:
        conversation += 1
        sender = f"bench-{conversation}"
        for turn in range(rng.randint(1, 5)):
            clock += rng.uniform(1, 60)
            text, intent = rng.choice(QUESTIONS)
            text = f"{text} {rng.choice(['', 'please', 'thanks', '?', 'again'])}".strip()
            confidence = rng.uniform(0.2, 1.0)
            if rng.random() < 0.1:
                intent = "nlu_fallback"
            parse = {"text": text, "intent": {"name": intent, "confidence": confidence},
                     "intent_ranking": [{"name": intent, "confidence": confidence},
                                        {"name": "diet", "confidence": confidence / 3}],
                     "entities": []}
            rows.append(dict(sender_id=sender, type_name="user", timestamp=clock, intent_name=intent,
                             action_name=None, data=json.dumps({"event": "user", "text": text,
                                                                "parse_data": parse})))
            users += 1
            for action in ("action_answer", "action_listen"):
                rows.append(dict(sender_id=sender, type_name="action", timestamp=clock,
                                 intent_name=None, action_name=action,
                                 data=json.dumps({"event": "action", "name": action})))
            rows.append(dict(sender_id=sender, type_name="bot", timestamp=clock, intent_name=None,
                             action_name=None, data=json.dumps({"event": "bot", "text": "x" * 600})))
            if turn == 2 and rng.random() < 0.2:
                rows.append(dict(sender_id=sender, type_name="slot", timestamp=clock,
                                 intent_name=None, action_name=None,
                                 data=json.dumps({"event": "slot", "name": "booking_name",
                                                  "value": f"Person {conversation}"})))
    with engine.begin() as connection:
        for start in range(0, len(rows), 5000):
            connection.execute(insert(inbox.EVENTS), rows[start:start + 5000])
    return users


def _timed(function: Any, *args: Any, **kwargs: Any) -> Dict[str, Any]:
    began = time.perf_counter()
    page = function(*args, **kwargs)
    return {"seconds": round(time.perf_counter() - began, 3), "groups": page.total_groups,
            "messages": page.total_messages, "shown": len(page.groups)}


def run(events: int, directory: Path) -> Dict[str, Any]:
    project = Project(root=sandbox_copy(directory / "project"),
                      database_url=f"sqlite:///{directory / 'clinic.db'}",
                      tracker_url=f"sqlite:///{directory / 'tracker.db'}")
    migrate(project.database_url)  # a fresh clinic database: the migrations make its tables
    staff = User("bench", STAFF)
    users = seed(project.tracker_url, events)
    figures: Dict[str, Any] = {"events": events, "user_messages": users}
    figures["first_open"] = _timed(inbox.inbox_page, project, staff)
    figures["second_open"] = _timed(inbox.inbox_page, project, staff)
    seed_more = [dict(sender_id="late", type_name="user", timestamp=time.time(), intent_name="diet",
                      action_name=None, data=json.dumps({"event": "user", "text": f"new question {i}",
                      "parse_data": {"intent": {"name": "diet", "confidence": 0.3}}})) for i in range(50)]
    with get_engine(project.tracker_url).begin() as connection:
        connection.execute(insert(inbox.EVENTS), seed_more)
    figures["open_after_50_new_messages"] = _timed(inbox.inbox_page, project, staff)
    figures["filtered_topic_diet"] = _timed(
        inbox.inbox_page, project, staff, inbox.InboxFilter(topic="diet"))
    figures["search_kombucha_page_2"] = _timed(
        inbox.inbox_page, project, staff, inbox.InboxFilter(search="kombucha"), page=2)
    figures["web_page_seconds"] = _web_open(project)
    figures["cli_seconds"] = _cli_open(project, directory)
    return figures


PASSWORD = "benchmark-passphrase"


def _web_open(project: Project) -> float:
    """GET / on the staff web page (logged in): the inbox as a browser receives it."""
    import asyncio
    import re

    from aiohttp.test_utils import TestClient, TestServer

    from bot.staff import users
    from bot.staff.web import create_app

    users.add_user(project.database_url, None, "bench", users.STAFF, PASSWORD)
    token = re.compile(r'name="csrf" value="([^"]+)"')

    async def main() -> float:
        async with TestClient(TestServer(create_app(project))) as client:
            form = await (await client.get("/login")).text()
            await client.post("/login", data={"username": "bench", "password": PASSWORD,
                                              "csrf": token.search(form).group(1)})  # type: ignore[union-attr]
            began = time.perf_counter()
            reply = await client.get("/")
            await reply.text()
            assert reply.status == 200
            return round(time.perf_counter() - began, 3)

    return asyncio.run(main())


def _cli_open(project: Project, directory: Path) -> float:
    """``python -m bot staff inbox`` from start to exit (interpreter and imports included)."""
    import os
    import subprocess
    import sys

    from bot.settings import PROJECT_ROOT

    # Allowed read of os.environ (tests/unit/test_settings.py): the child process's environment.
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), DATABASE_URL=project.database_url,
               TRACKER_DB_URL=project.tracker_url, STAFF_PROJECT_DIR=str(project.root),
               STAFF_USER="bench", STAFF_PASSWORD=PASSWORD)
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bot", "staff", "inbox", "--limit", "20"],  # noqa: S603
                          cwd=directory, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return round(time.perf_counter() - began, 3)


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.staff.benchmark", description=__doc__)
    parser.add_argument("--events", type=int, default=100_000, help="events to seed (100000)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        print(json.dumps(run(args.events, Path(directory)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
