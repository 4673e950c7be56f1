"""The website pieces: the embeddable chat widget, its demo page and the feedback endpoint.

``bot/web/static/`` holds the widget (plain JavaScript and CSS, no build step);
``bot.web.server`` serves it with a demo clinic page and ``POST /feedback``;
``bot.web.feedback`` validates and stores the thumbs up/down people give to answers.
"""

from __future__ import annotations

from typing import Mapping, Optional

DEFAULT_WEB_PORT = 8080


def demo_origins(port: int) -> list[str]:
    """The origins of the demo page: both spellings of loopback a person may type."""
    return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]


def allowed_origins(environ: Optional[Mapping[str, str]] = None) -> list[str]:
    """The web origins allowed to start a turn or vote: ``CORS_ORIGINS`` (space separated),
    or the demo page's own origins (``WEB_PORT``) when it is unset."""
    from bot.settings import environment

    env = environment(environ)
    return env.cors_origins.split() or demo_origins(env.web_port)
