"""The website pieces: the embeddable chat widget, its demo page and the feedback endpoint.

``bot/web/static/`` holds the widget (plain JavaScript and CSS, no build step);
``bot.web.server`` serves it with a demo clinic page and ``POST /feedback``;
``bot.web.feedback`` validates and stores the thumbs up/down people give to answers.
"""

from __future__ import annotations


def demo_origins(port: int) -> list[str]:
    """The origins of the demo page: both spellings of loopback a person may type."""
    return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]
