"""The staff web page: the same core as ``python -m bot staff``, behind a login.

aiohttp, bound to 127.0.0.1 (``STAFF_PORT``, default 8090). Passwords are checked against
salted scrypt hashes (``users``); sessions live in server memory, expire after
``STAFF_SESSION_MINUTES`` of inactivity (default 30) and are carried by an HttpOnly,
SameSite=Strict cookie. Every form carries the session's CSRF token and every POST is
refused without it, or when the browser says it comes from another site (Origin).
"""

from __future__ import annotations

import asyncio
import hmac
import html
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional
from urllib.parse import urlencode, urlsplit

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from bot.settings import get_settings
from bot.staff import bookings, changes, deploy, inbox, insight, topics, users
from bot.staff.throttle import LoginThrottle
from bot.staff.project import (
    DEFAULT_SESSION_MINUTES,
    DEFAULT_STAFF_PORT,
    Project,
    staff_flag,
    staff_setting,
)
from bot.staff.store import audit_log
from bot.web.hardening import add_security_headers, run

logger = logging.getLogger(__name__)

COOKIE = "staff_session"
LOGIN_COOKIE = "staff_login"
MAX_SESSION_HOURS = 8
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# On every response, redirects and error pages included (bot.web.hardening).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
}


@dataclass
class Session:
    user: users.User
    csrf: str
    created: float
    seen: float
    flash: List[str] = field(default_factory=list)
    open_requests: Optional[int] = None  # shown in the header of every page


@dataclass
class Job:
    """The retrain or rollback running in the background (one at a time)."""

    kind: str = ""
    running: bool = False
    lines: List[str] = field(default_factory=list)
    result: str = ""
    summary: str = ""  # one sentence in plain words: what happened
    ok: bool = False
    started: float = 0.0
    seconds: float = 0.0


@dataclass
class State:
    project: Project
    idle_seconds: float
    sessions: Dict[str, Session] = field(default_factory=dict)
    throttle: LoginThrottle = field(default_factory=LoginThrottle.from_settings)
    job: Job = field(default_factory=Job)
    retrain_seconds: float = 0.0  # how long the last successful retrain took

    def purge(self, now: float) -> None:
        """Forget ended sessions (kept in memory; the login throttle forgets by itself)."""
        for token, session in list(self.sessions.items()):
            if now - session.seen > self.idle_seconds or now - session.created > MAX_SESSION_HOURS * 3600:
                del self.sessions[token]


STATE_KEY = web.AppKey("staff_state", State)


def _state(request: web.Request) -> State:
    return request.app[STATE_KEY]


def _session(request: web.Request) -> Optional[Session]:
    state = _state(request)
    token = request.cookies.get(COOKIE, "")
    session = state.sessions.get(token)
    now = time.monotonic()
    if session is None:
        return None
    if now - session.seen > state.idle_seconds or now - session.created > MAX_SESSION_HOURS * 3600:
        state.sessions.pop(token, None)
        return None
    session.seen = now
    return session


# --------------------------------------------------------------------- HTML

def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


# Pages in the header's navigation: (path, label).
NAV = [("/", "Inbox"), ("/changes", "Approvals"), ("/topics/new", "New topic"),
       ("/models", "Models"), ("/dashboard", "Dashboard"), ("/audit", "Audit log")]
TEMPLATES = Path(__file__).resolve().parent / "templates"


@lru_cache(maxsize=1)
def templates() -> Environment:
    """The staff pages' Jinja2 templates (``bot/staff/templates``), escaping everything."""
    return Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                       trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined)


def render(name: str, title: str, session: Optional[Session] = None, current: str = "",
           **values: Any) -> str:
    """A page from ``templates/name`` inside the shared layout; the session's flashes shown once."""
    flashes: List[str] = []
    if session is not None:
        flashes, session.flash[:] = list(session.flash), []
    values.setdefault("refresh_seconds", 0)
    nav = list(NAV)
    if session is not None:
        count = getattr(session, "open_requests", None)
        nav.insert(0, ("/bookings", "Requests" if count is None else f"Requests ({count} open)"))
    return templates().get_template(name).render(
        title=title, session=session, nav=nav, current=current, flashes=flashes, **values)


def page(title: str, body: str, session: Optional[Session] = None) -> str:
    """A page whose body is HTML built by the caller (escape what goes into it with esc)."""
    return render("base.html", title, session, body=Markup(body))  # noqa: S704 (callers escape)


def csrf_field(session: Session) -> str:
    return f'<input type="hidden" name="csrf" value="{esc(session.csrf)}">'


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html")


# --------------------------------------------------------------------- middleware

@web.middleware
async def security(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Headers on every reply; login and CSRF on everything but the login page."""
    public = request.path in ("/login", "/health")
    session = _session(request)
    if not public and session is None:
        if request.method == "GET":
            raise web.HTTPSeeOther("/login")
        return _html(page("Please log in", "<p>Your session has ended. <a href='/login'>Log in</a>.</p>"),
                     401)
    if request.method == "POST":
        origin = request.headers.get("Origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.host:
            return _html(page("Refused", "<p>This form was sent from another site.</p>"), 403)
        if request.content_type != "application/x-www-form-urlencoded":
            # the pages' forms are never multipart: aiohttp 3.9.5's multipart parser is not reached
            return _html(page("Refused", "<p>This form was not sent by a staff page.</p>"), 415)
        form = await request.post()
        expected = session.csrf if session else request.cookies.get(LOGIN_COOKIE, "")
        given = str(form.get("csrf", ""))
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            return _html(page("Refused", "<p>This form has expired or was not sent from this page. "
                              "Go back, reload and try again.</p>"), 403)
    if session is not None and request.method == "GET":
        session.open_requests = await _run(bookings.open_count, _state(request).project)
    try:
        response = await handler(request)
    except users.PermissionDenied as error:
        response = _html(page("Not allowed", f"<p>{esc(error)}</p>", session), 403)
    except (ValueError, deploy.DeployError) as error:
        if session is not None and request.method == "POST":
            session.flash.append(f"Not done: {error}")
            back = urlsplit(request.headers.get("Referer") or "/").path or "/"
            response = web.Response(status=303, headers={"Location": back})
        else:
            response = _html(page("Problem", f"<p>{esc(error)}</p>", session), 400)
    return response  # headers: SECURITY_HEADERS, on every response (create_app)


# --------------------------------------------------------------------- login

def _login_page(error: str = "", username: str = "", status: int = 200) -> web.Response:
    # the login form's CSRF token is also set as a cookie (double submit): a page on another
    # site can neither read the cookie nor the form
    token = secrets.token_urlsafe(32)
    response = _html(render("login.html", "Log in", token=token, error=error, username=username),
                     status)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="Strict", max_age=900,
                        secure=_https())
    return response


async def login_form(request: web.Request) -> web.StreamResponse:
    return _login_page()


async def login(request: web.Request) -> web.StreamResponse:
    state = _state(request)
    form = await request.post()
    username = str(form.get("username", "")).strip().lower()[:64]
    now = time.monotonic()
    state.purge(now)
    address = _client_address(request)
    wait = state.throttle.wait(address, username, now)
    if wait > 0:  # slowed, never locked: the password is not even checked until then
        seconds = int(wait) + 1
        response = _login_page(f"Too many wrong passwords from here; please wait {seconds} "
                               "second(s) and try again.", username, 429)
        response.headers["Retry-After"] = str(seconds)
        return response
    try:
        user = await asyncio.get_running_loop().run_in_executor(
            None, users.authenticate, state.project.database_url, username, str(form.get("password", "")))
    except users.AuthenticationFailed:
        state.throttle.failed(address, username, time.monotonic())
        return _login_page("Wrong user name or password. Check them and try again.", username, 401)
    state.throttle.succeeded(address, username)
    token = secrets.token_urlsafe(32)
    state.sessions[token] = Session(user, secrets.token_urlsafe(32), now, now)
    response = web.HTTPSeeOther("/")
    response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/", secure=_https())
    response.del_cookie(LOGIN_COOKIE)
    return response


def _https() -> bool:
    """``staff: https: true`` (``STAFF_HTTPS``): the page is served over TLS, cookies are Secure."""
    return staff_flag("https")


def _client_address(request: web.Request) -> str:
    """The address a login attempt comes from (``TRUST_PROXY_HEADERS=1``: the proxy's word)."""
    if get_settings().env.trust_proxy_headers:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.remote or "unknown"


async def logout(request: web.Request) -> web.StreamResponse:
    _state(request).sessions.pop(request.cookies.get(COOKIE, ""), None)
    response = web.HTTPSeeOther("/login")
    response.del_cookie(COOKIE)
    return response


def _current(request: web.Request) -> Session:
    session = _session(request)
    assert session is not None  # the middleware let only logged-in requests through
    return session


async def _run(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Core calls touch files and databases; keep them off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, lambda: function(*args, **kwargs))


# --------------------------------------------------------------------- inbox and labels

PER_PAGE = 20


def _date(text: str) -> Optional[date]:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _inbox_filter(query: Any) -> inbox.InboxFilter:
    reason = str(query.get("reason", ""))
    return inbox.InboxFilter(
        reason=reason if reason in inbox.REASON_CHOICES else "",
        topic=str(query.get("topic", ""))[:128], since=_date(str(query.get("since", ""))),
        until=_date(str(query.get("until", ""))), search=str(query.get("q", ""))[:200])


async def inbox_page(request: web.Request) -> web.StreamResponse:
    session = _current(request)
    project = _state(request).project
    filters = _inbox_filter(request.query)
    number = int(request.query["page"]) if request.query.get("page", "").isdigit() else 1
    found = await _run(inbox.inbox_page, project, session.user, filters, number, PER_PAGE)
    choices = await _run(topics.label_options, project)
    offered = set(await _run(changes.label_choices, project))
    names = await _run(topics.topic_names, project)
    kept = {k: v for k, v in request.query.items() if k != "page" and v}

    def page_link(target: int) -> str:
        return "/?" + urlencode({**kept, "page": str(target)})

    return _html(render(
        "inbox.html", "Inbox", session, "/", inbox=found, filters=filters,
        filtered=bool(kept), reasons=inbox.REASON_CHOICES, names=names,
        choices=[c for c in choices if c.id in offered],
        guesses=sorted((c for c in choices), key=lambda c: c.title), page_link=page_link))


async def label_post(request: web.Request) -> web.StreamResponse:
    session = _current(request)
    form = await request.post()
    ids = [int(str(v)) for v in form.getall("ids", []) if str(v).isdigit()]
    text = str(form.get("text", "")).strip() or None
    change = await _run(changes.label, _state(request).project, session.user, ids,
                        str(form.get("topic", "")), text)
    session.flash.append(f"{change.summary}. Retrain on the Models page to put it live.")
    raise web.HTTPSeeOther("/")


# --------------------------------------------------------------------- topics and approvals

async def new_topic_form(request: web.Request) -> web.StreamResponse:
    session = _current(request)
    project = _state(request).project
    sections = await _run(topics.article_sections, project)
    choices = await _run(topics.label_options, project)
    known = {t.id for t in await _run(_knowledge_topics, project)}
    form = {"title": "", "answer": "", "examples": "", "quotes": []}
    return _html(render("new_topic.html", "New topic", session, "/topics/new", sections=sections,
                        form=form, topics=[c for c in choices if c.id in known]))


def _knowledge_topics(project: Project) -> List[Any]:
    from bot.knowledge.store import load_topics_file

    return list(load_topics_file(project.topics_file, project.article_file))


async def new_topic_post(request: web.Request) -> web.StreamResponse:
    session = _current(request)
    form = await request.post()
    title = str(form.get("title", "")).strip()
    citation = str(form.get("source_citation", "")).strip()
    source = {"citation": citation, "url": str(form.get("source_url", "")).strip()} if citation else None
    quotes = [str(q) for q in form.getall("quote", []) if str(q).strip()]
    other = str(form.get("other_quote", "")).strip()
    if other:
        quotes.append(other)
    if not quotes:
        raise ValueError("Pick at least one sentence of the article that supports the answer.")
    examples = [line for line in str(form.get("examples", "")).splitlines() if line.strip()]
    topic_id = str(form.get("id", "")).strip() or topics.topic_id_from_title(title)
    change = await _run(changes.propose_topic, _state(request).project, session.user,
                        topic_id, title, str(form.get("answer", "")), quotes, examples, (), source)
    session.flash.append(f"Change {change.id} waits for a clinician's approval "
                         f"(topic “{title}”, id {topic_id}).")
    raise web.HTTPSeeOther("/changes")


async def answer_post(request: web.Request) -> web.StreamResponse:
    session = _current(request)
    form = await request.post()
    quotes = [line for line in str(form.get("quotes", "")).splitlines() if line.strip()]
    change = await _run(changes.propose_answer, _state(request).project, session.user,
                        str(form.get("topic", "")).strip(), str(form.get("answer", "")), quotes)
    session.flash.append(f"Change {change.id} waits for a clinician's approval.")
    raise web.HTTPSeeOther("/changes")


async def changes_page(request: web.Request) -> web.StreamResponse:
    session = _current(request)
    project = _state(request).project
    waiting = await _run(changes.pending, project, session.user)
    alone = changes.self_approval_allowed()
    items = [{"change": c, "own": (c.created_by == session.user.username
                                   and c.needs_role == users.CLINICIAN and not alone)}
             for c in waiting]
    return _html(render("changes.html", "Approvals", session, "/changes", waiting=items,
                        self_approval=alone, self_approval_setting=changes.SELF_APPROVAL_SETTING,
                        new_topic=changes.NEW_TOPIC, answer=changes.ANSWER,
                        names=await _run(topics.topic_names, project)))


async def approve_post(request: web.Request) -> web.StreamResponse:
    session = _current(request)
    change = await _run(changes.approve, _state(request).project, session.user,
                        int(request.match_info["change_id"]))
    session.flash.append(f"Change {change.id} approved. Retrain on the Models page to put it live.")
    raise web.HTTPSeeOther("/changes")


async def reject_post(request: web.Request) -> web.StreamResponse:
    session = _current(request)
    form = await request.post()
    change = await _run(changes.reject, _state(request).project, session.user,
                        int(request.match_info["change_id"]), str(form.get("reason", "")))
    session.flash.append(f"Change {change.id} rejected.")
    raise web.HTTPSeeOther("/changes")


# --------------------------------------------------------------------- models

DEFAULT_RETRAIN_SECONDS = 60  # the first retrain after `make train` (docs/staff.md, "Figures")


@dataclass(frozen=True)
class Progress:
    elapsed: int
    left: int
    percent: int


def _progress(job: Job, estimate: float) -> Progress:
    elapsed = max(0.0, time.monotonic() - job.started)
    left = max(5.0, estimate - elapsed)
    return Progress(int(elapsed), int(left), int(min(95, 100 * elapsed / max(estimate, 1))))


async def models_page(request: web.Request) -> web.StreamResponse:
    session = _current(request)
    state = _state(request)
    models = await _run(deploy.history, state.project, session.user)
    live = next((m for m in models if m.status == deploy.LIVE), None)
    newer = [m for m in models if m.status != deploy.LIVE
             and (live is None or m.created_at > live.created_at)]
    previous = next((m for m in models if m.status in (deploy.RETIRED, deploy.ROLLED_BACK)), None)
    estimate = state.retrain_seconds or staff_setting("retrain_seconds", DEFAULT_RETRAIN_SECONDS)
    job = state.job
    return _html(render(
        "models.html", "Models", session, "/models", models=models, live=live,
        candidate=newer[0] if newer else None, previous=previous, job=job, progress=_progress(job, estimate),
        estimate_minutes=max(1, round(estimate / 60)), refresh_seconds=5 if job.running else 0))


def _start_job(state: State, kind: str, work: Callable[[Callable[[str], None]], deploy.DeployReport]) -> None:
    if state.job.running:
        raise ValueError("A retrain or rollback is already running.")
    state.job = Job(kind=kind, running=True, started=time.monotonic())
    job = state.job

    def run() -> None:
        try:
            report = work(job.lines.append)
            job.result, job.ok = report.text(), report.ok
            job.summary = report.message or ("Done." if report.ok else "Not done.")
        except Exception as error:  # shown to staff on the page
            logger.exception("%s failed", kind)
            job.result = f"{kind} stopped: {error}"
            job.summary = f"The {kind} stopped before it finished: {error}"
        finally:
            job.seconds = time.monotonic() - job.started
            if kind == "retrain" and job.ok:
                state.retrain_seconds = job.seconds
            job.running = False

    asyncio.get_running_loop().run_in_executor(None, run)


async def retrain_post(request: web.Request) -> web.StreamResponse:
    session = _current(request)
    state = _state(request)
    user = users.require(session.user, "deploy")
    _start_job(state, "retrain", lambda say: deploy.retrain(state.project, user, progress=say))
    raise web.HTTPSeeOther("/models")


async def rollback_post(request: web.Request) -> web.StreamResponse:
    session = _current(request)
    state = _state(request)
    user = users.require(session.user, "deploy")
    _start_job(state, "rollback", lambda _say: deploy.rollback(state.project, user))
    raise web.HTTPSeeOther("/models")


async def audit_page(request: web.Request) -> web.StreamResponse:
    session = _current(request)
    users.require(session.user, "read_inbox")
    entries = await _run(audit_log, _state(request).project.database_url, 200)
    return _html(render("audit.html", "Audit log", session, "/audit", entries=entries))


def _days(request: web.Request) -> int:
    text = request.query.get("days", "30")
    return int(text) if text.isdigit() and int(text) in insight.PERIODS else 30


async def dashboard_page(request: web.Request) -> web.StreamResponse:
    session = _current(request)
    found = await _run(insight.report, _state(request).project, session.user, _days(request))
    return _html(render("dashboard.html", "Dashboard", session, "/dashboard", report=found,
                        periods=insight.PERIODS))


async def dashboard_csv(request: web.Request) -> web.StreamResponse:
    session = _current(request)
    found = await _run(insight.report, _state(request).project, session.user, _days(request))
    try:
        chart = found.chart(request.match_info["chart"])
    except KeyError:
        raise web.HTTPNotFound() from None
    return web.Response(text=chart.csv(), content_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{chart.key}-{found.days}d.csv"'})


# --------------------------------------------------------------------- booking requests

def _status_options(selected: str, with_all: bool) -> str:
    choices = (["all"] if with_all else []) + list(bookings.statuses())
    return "".join(f'<option value="{esc(c)}"{" selected" if c == selected else ""}>{esc(c)}</option>'
                   for c in choices)


async def bookings_page(request: web.Request) -> web.StreamResponse:
    """Booking and call-back requests, newest first, filtered by status."""
    session = _current(request)
    status = request.query.get("status", "all")
    rows = await _run(bookings.list_requests, _state(request).project, session.user, status)
    selected = bookings.check_status(status) or "all"
    sending = await _run(bookings.notification_counts, _state(request).project)
    notices = ""
    if sending.get("failed") or sending.get("pending"):
        notices = (f'<p class="flash{" error" if sending.get("failed") else ""}">Notifications: '
                   f'{sending.get("pending", 0)} waiting to be sent, {sending.get("failed", 0)} '
                   'given up after repeated failures (check SMTP settings and var/log/notify.log).</p>')
    table = "".join(
        f'<tr><td><a href="/bookings/{esc(r.reference)}">{esc(r.reference)}</a></td>'
        f'<td>{r.created_at:%Y-%m-%d %H:%M}</td><td>{esc(r.kind)}</td><td>{esc(r.status)}</td>'
        f'<td>{esc(" ".join(r.times_text.split())[:60])}</td></tr>' for r in rows)
    body = (notices + f'<form method="get" action="/bookings"><label>Status <select name="status">'
            f'{_status_options(selected, True)}</select></label><button>Show</button></form>'
            f'<p>{len(rows)} request(s), newest first (UTC). Open one to see the name and contact '
            f'details; each opening is recorded in the audit log. '
            f'<a href="/bookings.csv?status={esc(selected)}">Export CSV</a></p>'
            '<table><tr><th>reference</th><th>received</th><th>kind</th><th>status</th>'
            f'<th>preferred times</th></tr>{table}</table>')
    return _html(page("Requests", body, session))


async def booking_page(request: web.Request) -> web.StreamResponse:
    session = _current(request)
    row = await _run(bookings.open_request, _state(request).project, session.user,
                     request.match_info["reference"])
    from bot.booking.validation import display_contact

    details = [("Reference", row.reference), ("Kind", row.kind),
               ("Received (UTC)", f"{row.created_at:%Y-%m-%d %H:%M}"), ("Status", row.status),
               ("Name", row.name), ("Contact", display_contact(row.contact, row.contact_kind)),
               ("Preferred times", row.times_text), ("Reason", row.reason or "(none given)")]
    sent = await _run(bookings.notifications_of, _state(request).project, row.reference)
    details.append(("Notifications", ", ".join(f"{c}: {st}" + (f" ({n} attempts)" if n > 1 else "")
                                                for c, st, n in sent) or "none"))
    table = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in details)
    body = (f'<table>{table}</table>'
            f'<form method="post" action="/bookings/{esc(row.reference)}/status">{csrf_field(session)}'
            f'<label>New status <select name="status">{_status_options(row.status, False)}</select>'
            '</label><button>Change status</button></form><p><a href="/bookings">All requests</a></p>')
    return _html(page(f"Request {row.reference}", body, session))


async def booking_status_post(request: web.Request) -> web.StreamResponse:
    session = _current(request)
    form = await request.post()
    reference = request.match_info["reference"]
    status = str(form.get("status", ""))
    previous = await _run(bookings.change_status, _state(request).project, session.user,
                          reference, status)
    ref = bookings.normalise_reference(reference)
    session.flash.append(f"{ref}: {previous} -> {status.strip().lower()}.")
    raise web.HTTPSeeOther(f"/bookings/{ref}")


async def bookings_csv(request: web.Request) -> web.StreamResponse:
    session = _current(request)
    text, _count = await _run(bookings.export_csv, _state(request).project, session.user,
                              request.query.get("status"))
    return web.Response(text=text, content_type="text/csv", charset="utf-8", headers={
        "Content-Disposition": 'attachment; filename="requests.csv"'})


async def health(_request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok"})


def create_app(project: Project, idle_minutes: Optional[float] = None) -> web.Application:
    minutes = idle_minutes if idle_minutes is not None else staff_setting("session_minutes",
                                                                          DEFAULT_SESSION_MINUTES)
    app = web.Application(middlewares=[security], client_max_size=256 * 1024)
    add_security_headers(app, SECURITY_HEADERS)
    app[STATE_KEY] = State(project=project, idle_seconds=float(minutes) * 60)
    app.add_routes([
        web.get("/health", health), web.get("/login", login_form), web.post("/login", login),
        web.post("/logout", logout), web.get("/", inbox_page), web.post("/label", label_post),
        web.get("/topics/new", new_topic_form), web.post("/topics/new", new_topic_post),
        web.post("/answers", answer_post), web.get("/changes", changes_page),
        web.post("/changes/{change_id:\\d+}/approve", approve_post),
        web.post("/changes/{change_id:\\d+}/reject", reject_post),
        web.get("/models", models_page), web.post("/retrain", retrain_post),
        web.post("/rollback", rollback_post), web.get("/audit", audit_page),
        web.get("/dashboard", dashboard_page),
        web.get("/dashboard/{chart:[a-z]+}.csv", dashboard_csv),
        web.get("/bookings", bookings_page), web.get("/bookings.csv", bookings_csv),
        web.get("/bookings/{reference}", booking_page),
        web.post("/bookings/{reference}/status", booking_status_post),
    ])
    return app


def serve(project: Project, port: int = DEFAULT_STAFF_PORT) -> None:
    """Run the staff page on loopback until interrupted."""
    print(f"Staff page: http://127.0.0.1:{port}/")
    run(create_app(project), host="127.0.0.1", port=port)
