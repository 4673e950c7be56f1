"""Simulated visitors of the clinic's assistant, for Locust (in ``.venv-load``, never ``.venv``).

Each visitor follows one script of ``loadtest/conversations.yml`` (picked by weight:
article questions, booking, small talk, a personal question), sends its messages one at a
time over the REST webhook, reads each answer and thinks before the next. At the end of the
script the visitor leaves and a new one, with a new sender id, arrives.

    .venv-load/bin/locust -f loadtest/locustfile.py --host http://127.0.0.1:5100

Settings (environment):
  LOAD_THINK      think time between messages, "min,max" seconds (default "2,8")
  LOAD_PACING     instead: one message every N seconds per visitor (a steady rate of
                  users / N messages per second; ``make loadtest`` uses it for the soak)
  LOAD_SCRIPTS    comma-separated script names to use (default: all)

A reply counts as failed when it is not HTTP 200, not a non-empty JSON list, or is the
assistant's apology for an internal failure (``custom.error``).
"""

from __future__ import annotations

import os
import random
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List

import yaml
from locust import HttpUser, task

SCRIPTS_FILE = Path(__file__).with_name("conversations.yml")
WEBHOOK = "/webhooks/rest/webhook"


def load_scripts() -> List[Dict[str, Any]]:
    with SCRIPTS_FILE.open(encoding="utf-8") as handle:
        scripts = yaml.safe_load(handle)["conversations"]
    wanted = {name.strip() for name in os.environ.get("LOAD_SCRIPTS", "").split(",") if name.strip()}
    chosen = [script for script in scripts if not wanted or script["name"] in wanted]
    if not chosen:
        raise SystemExit(f"LOAD_SCRIPTS={os.environ.get('LOAD_SCRIPTS')} matches no script "
                         f"in {SCRIPTS_FILE}")
    return chosen


PACING = float(os.environ.get("LOAD_PACING") or 0)
THINK = tuple(float(part) for part in os.environ.get("LOAD_THINK", "2,8").split(","))


SCRIPTS = load_scripts()
WEIGHTS = [int(script.get("weight", 1)) for script in SCRIPTS]


def problem(status: int, body: Any) -> str:
    """Why a reply is a failure for the person who sent the message ('' when it is not)."""
    if status != 200:
        return f"HTTP {status}"
    if not isinstance(body, list) or not body:
        return "no reply"
    for message in body:
        custom = message.get("custom") if isinstance(message, dict) else None
        if isinstance(custom, dict) and custom.get("error"):
            return f"apology: {custom['error']}"
    return ""


class Visitor(HttpUser):
    """One person on the clinic's site, chatting with the assistant."""

    def wait_time(self) -> float:
        """Think time; with LOAD_PACING, whatever is left of this visitor's period."""
        if PACING:
            return max(0.0, self.next_send - time.monotonic())
        return random.uniform(THINK[0], THINK[1])  # noqa: S311 (simulation, not security)

    def on_start(self) -> None:
        self.next_send = time.monotonic()
        if PACING:
            # Locust's constant_pacing counts from the spawn, so visitors spawned together
            # send together, every period: bursts, not a steady rate. Spread the phases.
            time.sleep(random.uniform(0, PACING))  # noqa: S311 (gevent sleep; not security)
            self.next_send = time.monotonic()
        self._new_conversation()

    def _new_conversation(self) -> None:
        self.sender = f"locust-{uuid.uuid4().hex[:12]}"
        self.script = random.choices(SCRIPTS, weights=WEIGHTS)[0]  # noqa: S311 (not security)
        self.step = 0

    @task
    def say_next(self) -> None:
        self.next_send += PACING
        text = self.script["messages"][self.step]
        with self.client.post(WEBHOOK, json={"sender": self.sender, "message": text},
                              name=self.script["name"], catch_response=True) as response:
            try:
                body = response.json()
            except ValueError:
                body = None
            reason = problem(response.status_code, body)
            if reason:
                response.failure(reason)
            else:
                response.success()
        self.step += 1
        if self.step >= len(self.script["messages"]):
            self._new_conversation()
