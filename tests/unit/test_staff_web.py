"""The staff page: login required, CSRF token on every form, sessions expire, roles enforced."""

from __future__ import annotations

import asyncio
import html
import re
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.db import get_engine
from bot.knowledge.store import load_topics_file, sync_topics
from bot.migrations import migrate
from bot.staff import changes, inbox, users
from bot.staff.project import Project, sandbox_copy
from bot.staff.web import COOKIE, create_app
from tests.unit.test_staff_core import Tracker

Scenario = Callable[[TestClient], Awaitable[Any]]
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture()
def project(tmp_path: Path) -> Project:
    root = sandbox_copy(tmp_path / "project")
    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    inbox.EVENTS.metadata.create_all(get_engine(tracker_url))
    project = Project(root=root, database_url=f"sqlite:///{tmp_path / 'clinic.db'}",
                      tracker_url=tracker_url)
    migrate(project.database_url)
    sync_topics(load_topics_file(project.topics_file, project.article_file), project.database_url)
    carol = users.add_user(project.database_url, None, "carol", users.CLINICIAN, "carol's passphrase")
    users.add_user(project.database_url, carol, "sam", users.STAFF, "sam's passphrase")
    return project


def run(project: Project, scenario: Scenario, idle_minutes: float = 30) -> Any:
    async def main() -> Any:
        async with TestClient(TestServer(create_app(project, idle_minutes))) as client:
            return await scenario(client)

    return asyncio.run(main())


async def log_in(client: TestClient, username: str, password: str) -> str:
    """Log in through the form; return the session's CSRF token."""
    form = await (await client.get("/login")).text()
    token = CSRF.search(form).group(1)  # type: ignore[union-attr]
    reply = await client.post("/login", data={"username": username, "password": password,
                                              "csrf": token}, allow_redirects=False)
    assert reply.status == 303, await reply.text()
    page = await (await client.get("/")).text()
    return CSRF.search(page).group(1)  # type: ignore[union-attr]


def test_nothing_is_served_without_a_login(project: Project) -> None:
    async def scenario(client: TestClient) -> None:
        for path in ("/", "/changes", "/models", "/audit", "/topics/new"):
            reply = await client.get(path, allow_redirects=False)
            assert (reply.status, reply.headers["Location"]) == (303, "/login")
        reply = await client.post("/label", data={"ids": "1", "topic": "diet", "csrf": "x"})
        assert reply.status == 401
        reply = await client.post("/retrain", data={})
        assert reply.status == 401

    run(project, scenario)
    assert not project.staff_examples_file.exists()


def test_wrong_passwords_and_forged_login_forms_are_refused(project: Project) -> None:
    async def scenario(client: TestClient) -> None:
        form = await (await client.get("/login")).text()
        token = CSRF.search(form).group(1)  # type: ignore[union-attr]
        wrong = await client.post("/login", data={"username": "sam", "password": "guess", "csrf": token})
        assert wrong.status == 401 and COOKIE not in {c.key for c in client.session.cookie_jar}
        forged = await client.post("/login", data={"username": "sam", "password": "sam's passphrase",
                                                   "csrf": "forged"})
        assert forged.status == 403

    run(project, scenario)


def test_a_cross_site_or_tokenless_post_changes_nothing(project: Project) -> None:
    event = Tracker(project).user("x", "does kombucha help with anxiety", "diet", 0.3)

    async def scenario(client: TestClient) -> None:
        csrf = await log_in(client, "sam", "sam's passphrase")
        label = {"ids": str(event), "topic": "diet"}
        assert (await client.post("/label", data=label)).status == 403
        assert (await client.post("/label", data={**label, "csrf": "not-the-token"})).status == 403
        evil = await client.post("/label", data={**label, "csrf": csrf},
                                 headers={"Origin": "https://evil.example"})
        assert evil.status == 403
        assert not project.staff_examples_file.exists()
        ok = await client.post("/label", data={**label, "csrf": csrf}, allow_redirects=False)
        assert ok.status == 303
        assert "does kombucha help with anxiety" in project.staff_examples_file.read_text()
        page = await client.get("/")
        assert "1 message(s) labelled diet" in await page.text()
        assert page.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]

    run(project, scenario)


def test_inbox_page_shows_masked_messages(project: Project) -> None:
    Tracker(project).user("x", "I'm Sarah, sarah@example.com, does kombucha help", "diet", 0.3)

    async def scenario(client: TestClient) -> str:
        await log_in(client, "sam", "sam's passphrase")
        return await (await client.get("/")).text()

    page = html.unescape(run(project, scenario))
    assert "I'm [name], [email], does kombucha help" in page
    assert "Sarah" not in page and "sarah@" not in page


def test_staff_cannot_approve_an_answer_but_a_clinician_can(project: Project) -> None:
    change = changes.propose_answer(project, users.User("sam", users.STAFF), "scfa", "A new answer.")

    async def as_staff(client: TestClient) -> None:
        csrf = await log_in(client, "sam", "sam's passphrase")
        reply = await client.post(f"/changes/{change.id}/approve", data={"csrf": csrf})
        assert reply.status == 403 and "Only a clinician" in await reply.text()

    async def as_clinician(client: TestClient) -> None:
        csrf = await log_in(client, "carol", "carol's passphrase")
        reply = await client.post(f"/changes/{change.id}/approve", data={"csrf": csrf},
                                  allow_redirects=False)
        assert reply.status == 303

    run(project, as_staff)
    assert "A new answer." not in project.topics_file.read_text()
    run(project, as_clinician)
    assert "A new answer." in project.topics_file.read_text()


def test_sessions_expire_when_idle(project: Project) -> None:
    async def scenario(client: TestClient) -> None:
        csrf = await log_in(client, "sam", "sam's passphrase")
        time.sleep(0.2)
        reply = await client.get("/", allow_redirects=False)
        assert (reply.status, reply.headers["Location"]) == (303, "/login")
        assert (await client.post("/label", data={"csrf": csrf, "ids": "1", "topic": "diet"})).status == 401

    run(project, scenario, idle_minutes=0.1 / 60)


def test_every_page_renders_for_a_logged_in_user(project: Project) -> None:
    async def scenario(client: TestClient) -> None:
        csrf = await log_in(client, "carol", "carol's passphrase")
        for path, expected in (("/changes", "Nothing is waiting"), ("/topics/new", "Change an existing"),
                               ("/models", "Retrain"), ("/audit", "add_user")):
            reply = await client.get(path)
            assert reply.status == 200 and expected in await reply.text(), path
            assert csrf in await reply.text()  # every form carries the token

    run(project, scenario)


def test_logout_ends_the_session(project: Project) -> None:
    async def scenario(client: TestClient) -> None:
        csrf = await log_in(client, "sam", "sam's passphrase")
        await client.post("/logout", data={"csrf": csrf})
        reply = await client.get("/", allow_redirects=False)
        assert reply.status == 303

    run(project, scenario)
