"""The demo web server: the widget's files, a demo clinic page, ``POST /feedback`` and
``GET /widget/settings`` (the crisis lines the widget names, from config/clinic.yml).

Run with ``python -m bot.web`` (``make run`` starts it). It binds to loopback; a clinic
puts its own web server or proxy in front, or copies ``static/clinic-chat.js`` and
``clinic-chat.css`` next to its pages and points ``/feedback`` here.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import json
import logging
import re
from functools import partial
from pathlib import Path
from typing import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from aiohttp import web

from bot.channels.guard import RateLimiter, limiter_from_env
from bot.schema import SchemaNotReady
from bot.settings import get_settings
from bot.settings.origins import allowed_origins, demo_origins
from bot.web import feedback
from bot.web.hardening import add_security_headers, run

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
DEMO_PAGE = STATIC_DIR / "demo.html"
DEFAULT_PORT = 8080
DEFAULT_RASA_URL = "http://127.0.0.1:5005"
# The demo page names the Rasa server like a clinic's page would; the server swaps in the
# configured address so the page works whatever port Rasa runs on.
DEMO_SERVER_ATTRIBUTE = f'data-server="{DEFAULT_RASA_URL}"'
MAX_BODY_BYTES = 64 * 1024
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
# {{emergency_phone}}-style placeholders in the demo page, filled from the settings.
PAGE_VALUE = re.compile(r"\{\{(\w+)\}\}")

RASA_URL_KEY = web.AppKey("rasa_url", str)
DATABASE_URL_KEY = web.AppKey("database_url", str)
TRACKER_URL_KEY = web.AppKey("tracker_url", str)
ORIGINS_KEY = web.AppKey("allowed_origins", frozenset)
LIMITER_KEY = web.AppKey("limiter", RateLimiter)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def origin_of(url: str) -> str:
    """``scheme://host:port`` of a URL, as browsers compare origins."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def render_demo_page(rasa_url: str) -> tuple[str, str]:
    """The demo page pointing at ``rasa_url`` and the Content-Security-Policy that fits it.

    The policy allows scripts from this server plus the page's own inline configuration
    (by hash), and connections only to this server and the Rasa server: the widget needs
    no ``unsafe-inline`` and no third party.
    """
    page = DEMO_PAGE.read_text(encoding="utf-8")
    page = page.replace(DEMO_SERVER_ATTRIBUTE, f'data-server="{html.escape(rasa_url)}"')
    values = get_settings().template_values()
    page = PAGE_VALUE.sub(
        lambda found: html.escape(values.get(found.group(1), found.group(0))), page)
    hashes = " ".join(
        "'sha256-"
        + base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
        + "'"
        for body in INLINE_SCRIPT.findall(page)
    )
    policy = "; ".join([
        "default-src 'self'",
        f"script-src 'self' {hashes}".strip(),
        "style-src 'self'",
        "img-src 'self' data:",
        f"connect-src 'self' {origin_of(rasa_url)}",
        "base-uri 'none'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ])
    return page, policy


def _cors_headers(request: web.Request) -> dict[str, str]:
    origin = request.headers.get("Origin", "")
    if origin and origin in request.app[ORIGINS_KEY]:
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "600",
            "Vary": "Origin",
        }
    return {"Vary": "Origin"}


def _error(request: web.Request, status: int, text: str) -> web.Response:
    return web.json_response({"error": text}, status=status, headers=_cors_headers(request))


async def demo_page(request: web.Request) -> web.Response:
    page, policy = render_demo_page(request.app[RASA_URL_KEY])
    return web.Response(
        text=page,
        content_type="text/html",
        headers={"Content-Security-Policy": policy, "Cache-Control": "no-cache"},
    )


def widget_settings() -> dict[str, object]:
    """What the widget needs from the clinic's settings: its crisis lines."""
    settings = get_settings()
    values = settings.template_values()
    return {
        "crisis_resources": [r.as_dict() for r in settings.crisis_resources],
        "emergency_phone": values["emergency_phone"],
        "crisis_phone": values["crisis_phone"],
    }


async def get_widget_settings(request: web.Request) -> web.Response:
    """``GET /widget/settings``: readable from the clinic's pages on other sites too."""
    headers = {**_cors_headers(request), "Cache-Control": "max-age=300"}
    return web.json_response(widget_settings(), headers=headers)


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def feedback_options(request: web.Request) -> web.Response:
    return web.Response(status=204, headers=_cors_headers(request))


async def post_feedback(request: web.Request) -> web.Response:
    """Store one thumbs up/down; 400 with a reason for anything malformed."""
    address = request.remote or "unknown"
    if not request.app[LIMITER_KEY].allow(address):
        return _error(request, 429, "Too much feedback at once; please wait a minute.")
    origin = request.headers.get("Origin")
    if origin is not None and origin not in request.app[ORIGINS_KEY]:
        return _error(request, 403, "Feedback is accepted only from the clinic's own pages.")
    if request.content_type != "application/json":
        return _error(request, 400, "Send the feedback as JSON (Content-Type: application/json).")
    try:
        body = json.loads(await request.text())
    except (ValueError, UnicodeDecodeError):
        return _error(request, 400, "The body is not valid JSON.")
    try:
        vote = feedback.parse_feedback(body)
    except feedback.InvalidFeedback as error:
        return _error(request, 400, str(error))
    if vote.message_hash is None:
        return _error(request, 400, "'message' must be the text of the answer voted on.")
    loop = asyncio.get_running_loop()
    try:
        real = await loop.run_in_executor(
            None, feedback.vote_is_for_a_real_answer, vote, request.app[TRACKER_URL_KEY])
    except Exception as error:  # the conversation store is down
        logger.error("feedback not checked: %s", type(error).__name__)
        return _error(request, 503, "Feedback could not be saved right now; please try later.")
    if not real:
        return _error(request, 404, "That answer is not part of this conversation.")
    try:
        row_id = await loop.run_in_executor(
            None, partial(feedback.store_feedback, vote, request.app[DATABASE_URL_KEY])
        )
    except Exception as error:  # the database is down: say so, never crash the page
        logger.error("feedback not stored: %s", type(error).__name__)
        return _error(request, 503, "Feedback could not be saved right now; please try later.")
    return web.json_response(
        {"status": "stored", "id": row_id}, status=201, headers=_cors_headers(request)
    )


async def _check_schema(app: web.Application) -> None:
    try:
        await asyncio.get_running_loop().run_in_executor(
            None, feedback.require_schema, app[DATABASE_URL_KEY]
        )
    except SchemaNotReady as error:  # the migrations create it; checked again on each vote
        logger.error("feedback table not ready: %s", error)
    except Exception as error:  # the database is down: checked again on each vote
        logger.error("feedback table not ready: %s", type(error).__name__)


def create_app(
    rasa_url: str = DEFAULT_RASA_URL,
    database_url: str | None = None,
    allowed_origins: Iterable[str] = (),
    tracker_url: str | None = None,
) -> web.Application:
    """The web application; ``allowed_origins`` may post feedback from other sites; votes
    are checked against the conversations in ``tracker_url`` (``TRACKER_DB_URL``)."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    add_security_headers(app)  # every response, errors and static files included
    app[RASA_URL_KEY] = rasa_url.rstrip("/")
    app[DATABASE_URL_KEY] = database_url or get_settings().database_url
    app[TRACKER_URL_KEY] = tracker_url or get_settings().env.tracker_url()
    app[ORIGINS_KEY] = frozenset(allowed_origins)
    app[LIMITER_KEY] = limiter_from_env("RATE_LIMIT_FEEDBACK")
    app.router.add_get("/", demo_page)
    app.router.add_get("/demo.html", demo_page)
    # the file itself is served only through the page handler, with its policy (never bare)
    app.router.add_get("/static/demo.html", demo_page)
    app.router.add_get("/health", health)
    app.router.add_get("/widget/settings", get_widget_settings)
    app.router.add_post("/feedback", post_feedback)
    app.router.add_route("OPTIONS", "/feedback", feedback_options)
    app.router.add_static("/static/", STATIC_DIR, show_index=False, follow_symlinks=False)
    app.on_startup.append(_check_schema)  # type: ignore[arg-type]  # aiohttp 3.9 stub
    return app


def main(argv: list[str] | None = None) -> int:
    """``python -m bot.web``: serve until interrupted."""
    import argparse

    env = get_settings().env
    port_default = env.web_port
    rasa_default = env.rasa_public_url or f"http://127.0.0.1:{env.rasa_port}"
    parser = argparse.ArgumentParser(prog="python -m bot.web", description=__doc__)
    parser.add_argument("--port", type=int, default=port_default, help="WEB_PORT (8080)")
    parser.add_argument("--rasa-url", default=rasa_default,
                        help="the Rasa server the widget talks to (RASA_PUBLIC_URL)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from bot.files import private_umask

    private_umask()
    origins = set(demo_origins(args.port))
    origins.update(allowed_origins())
    app = create_app(args.rasa_url, allowed_origins=origins)
    print(f"Demo page: http://127.0.0.1:{args.port}/", flush=True)
    run(app, host="127.0.0.1", port=args.port)
    return 0
