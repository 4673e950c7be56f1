"""The web origins allowed to start a turn (REST channel) or post a vote (website).

Both the REST channel and the website use them, and the process that starts the stack
names the demo page's; so they are read here, from the settings, not in either face.
"""

from __future__ import annotations

from typing import Mapping, Optional

from bot.settings import environment


def demo_origins(port: int) -> list[str]:
    """The origins of the demo page: both spellings of loopback a person may type."""
    return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]


def allowed_origins(environ: Optional[Mapping[str, str]] = None) -> list[str]:
    """The web origins allowed to start a turn or vote: ``CORS_ORIGINS`` (space separated),
    or the demo page's own origins (``WEB_PORT``) when it is unset."""
    env = environment(environ)
    return env.cors_origins.split() or demo_origins(env.web_port)
