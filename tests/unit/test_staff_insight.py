"""The dashboard and ``staff report``: counts from the conversation log, SVG charts, CSV files."""

from __future__ import annotations

import csv
import html
import io
import os
import subprocess
import sys

from aiohttp.test_utils import TestClient

from bot.settings import PROJECT_ROOT
from bot.staff import insight, users
from bot.staff.project import Project
from bot.web.feedback import Feedback, store_feedback
from tests.unit.test_staff_core import Tracker
from tests.unit.test_staff_web import log_in, project, run  # noqa: F401 (fixture)

SAM = users.User("sam", users.STAFF)


def _conversations(project: Project) -> None:  # noqa: F811
    tracker = Tracker(project)
    for sender, text, intent, action in (
            ("a", "what is butyrate", "scfa", "action_answer"),
            ("a", "and fibre?", "diet", "action_answer"),
            ("b", "what is butyrate exactly", "scfa", "action_answer"),
            ("c", "weather?", "out_of_scope", "action_out_of_scope"),
            ("d", "gut stress thing", "stress_harms_gut", "action_clarify"),
            ("e", "I want to end it", "crisis", "action_crisis")):
        tracker.user(sender, text, intent, 0.9)
        tracker._add(sender, "action", {"name": action})
        tracker.clock += 2.5 if sender == "d" else 0.2
        tracker._add(sender, "bot", {"text": "reply"})
    from sqlalchemy import update

    from bot.db import get_engine
    from bot.staff.inbox import EVENTS

    with get_engine(project.tracker_url).begin() as connection:  # Rasa fills action_name
        for row in connection.execute(EVENTS.select().where(EVENTS.c.type_name == "action")).all():
            import json

            connection.execute(update(EVENTS).where(EVENTS.c.id == row.id)
                               .values(action_name=json.loads(row.data)["name"]))
    store_feedback(Feedback("a", "down", "scfa", 0), project.database_url)
    store_feedback(Feedback("b", "up", "scfa", 0), project.database_url)
    store_feedback(Feedback("a", "up", "diet", 1), project.database_url)


def test_report_counts_conversations_topics_outcomes_thumbs_and_slow_replies(project: Project) -> None:  # noqa: F811
    _conversations(project)
    found = insight.report(project, SAM, 7)
    per_day = dict(found.chart("conversations").rows)
    assert sum(int(v) for v in per_day.values()) == 5 and len(per_day) == 8
    assert found.chart("topics").rows[0] == ("What are short-chain fatty acids?", "2")
    assert "Crisis (safety net)" not in dict(found.chart("topics").rows)
    assert dict(found.chart("outcomes").rows) == {"answered": "3", "clarified": "1",
                                                  "out of scope": "1", "crisis": "1"}
    thumbs = {row[0]: row[1:] for row in found.chart("thumbs").rows}
    assert list(thumbs.values())[0] == ("1", "1")  # the topic with a thumbs down first
    assert dict(found.chart("bookings").rows) == {"made": "0", "handled": "0"}
    slowest = found.chart("slowest").rows[0]
    assert float(slowest[2]) >= 2.5
    text = "\n".join(c.csv() for c in found.charts)
    for private in ("butyrate exactly", "I want to end it", "weather?"):
        assert private not in text  # counts only


def test_dashboard_draws_each_chart_as_svg_with_a_csv_download(project: Project) -> None:  # noqa: F811
    _conversations(project)

    async def scenario(client: TestClient) -> None:
        await log_in(client, "sam", "sam's passphrase")
        page = html.unescape(await (await client.get("/dashboard?days=7")).text())
        assert page.count("<svg") >= 4
        for key in ("conversations", "topics", "outcomes", "thumbs", "bookings", "slowest"):
            assert f'href="/dashboard/{key}.csv?days=7"' in page, key
        reply = await client.get("/dashboard/outcomes.csv?days=7")
        assert reply.status == 200 and reply.content_type == "text/csv"
        rows = list(csv.reader(io.StringIO(await reply.text())))
        assert rows[0] == ["reply", "replies"] and ["crisis", "1"] in rows
        assert (await client.get("/dashboard/nothing.csv")).status == 404

    run(project, scenario)


def test_staff_report_prints_the_same_figures(project: Project, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _conversations(project)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "DATABASE_URL": project.database_url,
           "TRACKER_DB_URL": project.tracker_url, "STAFF_PROJECT_DIR": str(project.root),
           "STAFF_USER": "sam", "STAFF_PASSWORD": "sam's passphrase"}
    done = subprocess.run([sys.executable, "-m", "bot", "staff", "report", "--since", "7d",
                           "--csv", str(tmp_path / "csv")], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "How the assistant replied" in done.stdout and "clarified" in done.stdout
    assert (tmp_path / "csv" / "outcomes-7d.csv").read_text().splitlines()[1:] == [
        "answered,3", "clarified,1", "out of scope,1", "crisis,1"]
    bad = subprocess.run([sys.executable, "-m", "bot", "staff", "report", "--since", "soon"],
                         cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "7d, 30d" in bad.stderr
