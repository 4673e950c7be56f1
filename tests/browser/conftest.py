"""Browser fixtures: Debian's Chromium driven by Playwright, and the real servers behind it.

Playwright's own browser download does not work here, so the tests use ``/usr/bin/chromium``
and install Debian's ``chromium`` package with apt when it is missing (once per run).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.deploy import serve
from bot.deploy.serve import free_port
from bot.settings import PROJECT_ROOT
from bot.settings.origins import demo_origins
from tests.e2e.conftest import Assistant, start_assistant

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = PROJECT_ROOT / "var" / "screenshots"
APT_TIMEOUT = 1800


def install_chromium() -> str | None:
    """Install Debian's chromium if it is missing; the reason it could not be, or None."""
    if CHROMIUM.exists():
        return None
    apt = shutil.which("apt-get")
    if not apt:
        return f"{CHROMIUM} is missing and apt-get is not available to install it"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in ([apt, "update"], [apt, "install", "-y", "chromium"]):
        try:
            done = subprocess.run(  # noqa: S603 (fixed command)
                command, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"`{' '.join(command)}` failed: {error}"
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return f"`{' '.join(command)}` exited {done.returncode}: {' | '.join(tail)}"
    if not CHROMIUM.exists():
        return f"apt installed chromium but {CHROMIUM} is still missing"
    return None


@pytest.fixture(scope="session")
def chromium() -> Path:
    reason = install_chromium()
    if reason:
        pytest.skip(f"no Chromium for the browser tests: {reason}")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Any]:
    """Chromium under Playwright's sync API, for one test module.

    Module scope on purpose: the sync API keeps an asyncio loop running in the main thread
    while it is open, which would break later tests that call ``asyncio.run``.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Site:
    """The running stack: Rasa, actions and the demo web server, with their databases."""

    assistant: Assistant
    config: serve.StackConfig
    database_url: str

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.config.web_port}"

    @property
    def rasa_url(self) -> str:
        return self.assistant.base_url


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Rasa and the action server (as in the e2e tests) plus the demo page on free ports."""
    tmp = tmp_path_factory.mktemp("web-stack")
    web_port = free_port()
    assistant = start_assistant(tmp, CORS_ORIGINS=" ".join(demo_origins(web_port)))
    config = dataclasses.replace(assistant.config, web_port=web_port)
    try:
        serve.start_web(config, serve.server_env(config))
        yield Site(assistant, config, config.extra_env["DATABASE_URL"])
    finally:
        serve.stop(config)


@dataclass
class PageWatch:
    """What a page did that a person would notice: dialogs, script errors."""

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture()
def new_page(browser: Any) -> Iterator[Any]:
    """A factory for pages in fresh browser contexts (own storage), closed after the test."""
    contexts: list[Any] = []

    def make(width: int = 1280, height: int = 800, scale: float = 1) -> tuple[Any, PageWatch]:
        context = browser.new_context(
            viewport={"width": width, "height": height}, device_scale_factor=scale
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        watch = PageWatch()

        def on_dialog(dialog: Any) -> None:
            watch.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda error: watch.errors.append(str(error)))
        page.on(
            "console",
            lambda msg: watch.errors.append(msg.text) if msg.type == "error" else None,
        )
        return page, watch

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
