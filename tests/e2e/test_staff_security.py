"""The staff page's login throttle and four eyes on answers (issue 16, items 5 and 6), and its
Secure cookie setting (item 7), against the real staff server on a copy of the project.

Other people are other loopback addresses (127.0.0.2, 127.0.0.3), as in the REST hardening
tests. Back-off is set short (``STAFF_LOGIN_*``) so the test waits seconds, not minutes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from bot.deploy import serve
from bot.knowledge.store import load_topics_file
from bot.migrations import migrate
from bot.settings import PROJECT_ROOT
from bot.staff import users
from bot.staff.project import Project, sandbox_copy
from bot.staff.store import audit_log

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
PASSWORDS = {"carol": "carol's long passphrase", "dana": "dana's long passphrase",
             "sam": "sam's long passphrase"}
FREE = 3  # wrong passwords before the back-off starts (per address, per account)


@dataclass
class StaffSite:
    url: str
    project: Project


class FromAddress(HTTPAdapter):
    """Connections from one loopback address: another person's computer."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client(address: str = "127.0.0.1") -> requests.Session:
    session = requests.Session()
    session.mount("http://", FromAddress(address))
    return session


def try_login(site: StaffSite, session: requests.Session, username: str,
              password: str) -> requests.Response:
    form = session.get(f"{site.url}/login").text
    return session.post(f"{site.url}/login", allow_redirects=False, data={
        "username": username, "password": password,
        "csrf": CSRF.search(form).group(1)})  # type: ignore[union-attr]


def log_in(site: StaffSite, username: str, address: str = "127.0.0.1") -> requests.Session:
    session = client(address)
    reply = try_login(site, session, username, PASSWORDS[username])
    assert reply.status_code == 303, reply.text
    return session


def start_staff_site(tmp: Path, **env: str) -> Iterator[StaffSite]:
    root = sandbox_copy(tmp / "project")
    database = f"sqlite:///{tmp / 'clinic.db'}"
    project = Project(root=root, database_url=database, tracker_url=f"sqlite:///{tmp / 't.db'}")
    migrate(database)
    carol = users.add_user(database, None, "carol", users.CLINICIAN, PASSWORDS["carol"])
    users.add_user(database, carol, "dana", users.CLINICIAN, PASSWORDS["dana"])
    users.add_user(database, carol, "sam", users.STAFF, PASSWORDS["sam"])
    port = serve.free_port()
    process_env = dict(
        os.environ, PYTHONPATH=str(PROJECT_ROOT), RASA_TELEMETRY_ENABLED="false",
        STAFF_PROJECT_DIR=str(root), DATABASE_URL=database, TRACKER_DB_URL=project.tracker_url,
        STAFF_LOGIN_ADDRESS_FREE=str(FREE), STAFF_LOGIN_USER_FREE=str(FREE),
        STAFF_LOGIN_BACKOFF_SECONDS="1", STAFF_LOGIN_BACKOFF_MAX_SECONDS="8", **env,
    )
    process = subprocess.Popen(  # noqa: S603 (fixed command)
        [sys.executable, "-m", "bot", "staff", "web", "--port", str(port)], cwd=PROJECT_ROOT,
        env=process_env, stdout=subprocess.DEVNULL, stderr=(tmp / "staff.log").open("w"))
    try:
        serve.wait_ready(f"http://127.0.0.1:{port}/health", 60, process.pid)
        yield StaffSite(f"http://127.0.0.1:{port}", project)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture()
def site(tmp_path: Path) -> Iterator[StaffSite]:
    yield from start_staff_site(tmp_path)


@pytest.fixture()
def one_clinician_site(tmp_path: Path) -> Iterator[StaffSite]:
    yield from start_staff_site(tmp_path, STAFF_ALLOW_SELF_APPROVAL="true")


@pytest.fixture()
def https_site(tmp_path: Path) -> Iterator[StaffSite]:
    """Served behind a TLS proxy (the test talks plain http to it, as the proxy would)."""
    yield from start_staff_site(tmp_path, STAFF_HTTPS="true")


# --- item 5: throttle without lockout -------------------------------------------------------


def test_password_spraying_from_one_address_is_slowed_exponentially(site: StaffSite) -> None:
    attacker = client("127.0.0.2")
    statuses = []
    for attempt in range(60):  # 15 names, 4 passwords each, as fast as the server answers
        reply = try_login(site, attacker, f"user{attempt % 15}", f"guess number {attempt}")
        statuses.append(reply.status_code)
    assert statuses[:FREE] == [401] * FREE
    assert statuses.count(401) <= FREE + 1, statuses  # the rest never had a password checked
    assert statuses.count(429) >= 60 - FREE - 1
    waits = []
    for _ in range(3):  # each wrong password after a wait doubles the next wait
        reply = try_login(site, attacker, "user1", "another guess")
        assert reply.status_code == 429 and "wait" in reply.text
        waits.append(int(reply.headers["Retry-After"]))
        time.sleep(waits[-1] + 0.2)
        assert try_login(site, attacker, "user1", "another guess").status_code == 401
    assert waits[0] < waits[1] < waits[2], waits
    print(f"spraying: {statuses.count(401)} of 60 checked, {statuses.count(429)} refused; "
          f"waits {waits} s")


def test_guessing_a_staff_password_cannot_lock_them_out(site: StaffSite) -> None:
    attacker = client("127.0.0.2")
    for attempt in range(20):
        try_login(site, attacker, "carol", f"guess {attempt}")
    assert try_login(site, attacker, "carol", PASSWORDS["carol"]).status_code == 429
    # the account is slowed for addresses that failed for it, even a new one after it fails
    second = client("127.0.0.3")
    assert try_login(site, second, "carol", "one more guess").status_code == 401
    assert try_login(site, second, "carol", PASSWORDS["carol"]).status_code == 429
    # carol, at her own computer, logs in at once
    started = time.monotonic()
    carol = log_in(site, "carol", "127.0.0.1")
    assert time.monotonic() - started < 5
    assert "Inbox" in carol.get(f"{site.url}/").text


# --- item 6: four eyes ---------------------------------------------------------------------


def propose(site: StaffSite, session: requests.Session, topic: str, answer: str) -> int:
    csrf = CSRF.search(session.get(f"{site.url}/topics/new").text).group(1)  # type: ignore[union-attr]
    reply = session.post(f"{site.url}/answers", data={"topic": topic, "answer": answer,
                                                       "csrf": csrf})
    assert reply.status_code == 200, reply.text
    return int(re.search(r"Change (\d+) waits", reply.text).group(1))  # type: ignore[union-attr]


def approve(site: StaffSite, session: requests.Session, change: int) -> requests.Response:
    page = session.get(f"{site.url}/changes").text
    csrf = CSRF.search(page).group(1)  # type: ignore[union-attr]
    return session.post(f"{site.url}/changes/{change}/approve", data={"csrf": csrf})


def live_answer(site: StaffSite, topic: str) -> str:
    topics = load_topics_file(site.project.topics_file, site.project.article_file)
    return next(t.answer for t in topics if t.id == topic)


def first_topic(site: StaffSite) -> str:
    return load_topics_file(site.project.topics_file, site.project.article_file)[0].id


def test_a_clinician_cannot_approve_their_own_answer_change(site: StaffSite) -> None:
    topic = first_topic(site)
    before = live_answer(site, topic)
    carol = log_in(site, "carol")
    change = propose(site, carol, topic, "A changed answer that only carol has read.")
    page = carol.get(f"{site.url}/changes").text
    assert 'id="four-eyes"' in page and "other than the person who proposed it" in page
    assert f"/changes/{change}/approve" not in page  # no button for her own change
    refused = approve(site, carol, change)
    assert refused.status_code == 403 and "other than the person who proposed it" in refused.text
    assert live_answer(site, topic) == before
    entries = audit_log(site.project.database_url, 20)
    assert any(e.action == "approve_refused" and "four eyes" in str(e.details) for e in entries)
    # a second clinician approves: now it is live
    dana = log_in(site, "dana")
    assert f"/changes/{change}/approve" in dana.get(f"{site.url}/changes").text
    assert approve(site, dana, change).status_code == 200
    assert live_answer(site, topic) == "A changed answer that only carol has read."


def test_self_approval_only_with_the_setting_shown_and_audited(
    one_clinician_site: StaffSite,
) -> None:
    site = one_clinician_site
    topic = first_topic(site)
    carol = log_in(site, "carol")
    change = propose(site, carol, topic, "The one clinician's own new answer.")
    page = carol.get(f"{site.url}/changes").text
    assert 'id="self-approval"' in page and "Self-approval is ON" in page
    assert approve(site, carol, change).status_code == 200
    assert live_answer(site, topic) == "The one clinician's own new answer."
    [entry] = [e for e in audit_log(site.project.database_url, 20) if e.action == "approve"]
    assert entry.username == "carol" and entry.details.get("self_approval") is True
    assert "allow_self_approval" in entry.details.get("setting", "")


# --- item 7: Secure cookies over https -----------------------------------------------------


def cookie_headers(site: StaffSite) -> list[str]:
    """Set-Cookie of the login form and of a successful login (cookies sent by hand: a
    Secure cookie is not sent back over plain http by a client)."""
    form = requests.get(f"{site.url}/login")
    token = CSRF.search(form.text).group(1)  # type: ignore[union-attr]
    reply = requests.post(f"{site.url}/login", allow_redirects=False,
                          headers={"Cookie": f"staff_login={token}"},
                          data={"username": "carol", "password": PASSWORDS["carol"], "csrf": token})
    return [form.headers.get("Set-Cookie", ""), reply.headers.get("Set-Cookie", "")]


def test_cookies_are_secure_when_the_page_is_served_over_https(https_site: StaffSite) -> None:
    login_form, session = cookie_headers(https_site)
    assert "staff_login=" in login_form and "Secure" in login_form
    assert "staff_session=" in session and "Secure" in session and "HttpOnly" in session


def test_cookies_are_not_secure_on_plain_http_by_default(site: StaffSite) -> None:
    login_form, session = cookie_headers(site)
    assert "staff_session=" in session and "Secure" not in session
    assert "Secure" not in login_form


def test_every_staff_response_carries_the_security_headers(site: StaffSite) -> None:
    anonymous = requests.Session()
    responses = [
        anonymous.get(f"{site.url}/login"), anonymous.get(f"{site.url}/health"),
        anonymous.get(f"{site.url}/", allow_redirects=False),  # redirect to the login
        anonymous.get(f"{site.url}/no-such-page", allow_redirects=False),  # login first
        anonymous.post(f"{site.url}/login", data={"username": "x"}),  # no CSRF token: 403
        anonymous.post(f"{site.url}/label", data={}),  # not logged in: 401
    ]
    carol = log_in(site, "carol")
    responses += [carol.get(f"{site.url}/changes"), carol.get(f"{site.url}/nope")]
    assert [r.status_code for r in responses] == [200, 200, 303, 303, 403, 401, 200, 404]
    for reply in responses:
        for name in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options",
                     "Referrer-Policy", "Cache-Control"):
            assert name in reply.headers, (reply.url, reply.status_code, name)
        assert "frame-ancestors 'none'" in reply.headers["Content-Security-Policy"]
        assert "aiohttp" not in reply.headers.get("Server", "")


def test_the_staff_page_never_parses_a_multipart_body(site: StaffSite) -> None:
    """aiohttp 3.9.5's multipart advisories (header size bypass, large payloads): no staff
    form is multipart, so a multipart POST is refused before it is parsed."""
    carol = log_in(site, "carol")
    csrf = CSRF.search(carol.get(f"{site.url}/changes").text).group(1)  # type: ignore[union-attr]
    reply = carol.post(f"{site.url}/label", files={"csrf": (None, csrf), "topic": (None, "x")})
    assert reply.status_code == 415
    anonymous = requests.post(f"{site.url}/login", files={"username": (None, "x" * 10)})
    assert anonymous.status_code == 415
