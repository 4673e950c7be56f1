"""The action server registers exactly the actions the domain names (no base class)."""

from __future__ import annotations

import yaml
from rasa_sdk.executor import ActionExecutor

from bot.settings import PROJECT_ROOT


def test_every_registered_action_is_one_the_domain_names() -> None:
    executor = ActionExecutor()
    executor.register_package("actions")
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    named = set(domain.get("actions") or []) | {
        f"validate_{form}" for form in (domain.get("forms") or {})}
    registered = set(executor.actions)
    assert registered - named == set(), "registered, but the domain never names them"
