"""The project's settings, read once per process: clinic details from ``config/clinic.yml``
(or the file named by ``CLINIC_CONFIG``) and every environment variable (``environment.py``,
each declared once with its type, default and doc).

This package is the only code that reads ``os.environ`` (``tests/unit/test_settings.py``
checks it). :func:`get_settings` reads on first use, never at import time; tests build one
from a dict with ``load_settings(environ={...})`` or ``Environment.from_environ({...})``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import yaml

from bot.settings.environment import (
    DEFAULT_DATABASE_URL,
    DEFAULT_TRACKER_URL,
    PROJECT_ROOT,
    VAR_DIR,
    Environment,
    variables,
)

DEFAULT_CONFIG = PROJECT_ROOT / "config" / "clinic.yml"

__all__ = [
    "DEFAULT_CONFIG", "DEFAULT_DATABASE_URL", "DEFAULT_TRACKER_URL", "PROJECT_ROOT", "VAR_DIR",
    "CrisisResource", "Environment", "Settings", "environment", "get_settings", "load_settings",
]


@dataclass(frozen=True)
class CrisisResource:
    """A crisis line shown to someone at risk."""

    name: str
    phone: str
    when: str
    role: str = ""
    """``emergency`` or ``crisis`` for the lines short texts name ("call 911 or call or
    text 988"); templates use them as ``{emergency_phone}`` and ``{crisis_phone}``."""

    def as_dict(self) -> Dict[str, str]:
        return {"name": self.name, "phone": self.phone, "when": self.when}


@dataclass(frozen=True)
class Settings:
    """Everything configurable about the clinic, read once per process."""

    clinic: Mapping[str, str]
    article: Mapping[str, Any]
    paper: Mapping[str, Any]
    crisis_resources: List[CrisisResource]
    database_url: str = DEFAULT_DATABASE_URL
    extra: Mapping[str, Any] = field(default_factory=dict)
    env: Environment = field(default_factory=Environment)

    @property
    def clinic_name(self) -> str:
        return str(self.clinic["name"])

    @property
    def phone(self) -> str:
        return str(self.clinic["phone"])

    def template_values(self) -> Dict[str, str]:
        """Values that response templates may use, e.g. ``{clinic_phone}``."""
        values = {f"clinic_{key}": str(value) for key, value in self.clinic.items()}
        values["article_url"] = str(self.article["url"])
        values["article_title"] = str(self.article["title"])
        values["emergency_phone"] = self.crisis_line("emergency").phone
        values["crisis_phone"] = self.crisis_line("crisis").phone
        return values

    def crisis_line(self, role: str) -> CrisisResource:
        """The first crisis line with ``role`` (``emergency``, ``crisis``), else the first."""
        return next((r for r in self.crisis_resources if r.role == role),
                    self.crisis_resources[0])


def _read_yaml(path: Path) -> Dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
    except FileNotFoundError as error:
        raise RuntimeError(
            f"Clinic settings file {path} is missing; copy config/clinic.yml or set CLINIC_CONFIG."
        ) from error
    if not isinstance(data, dict):
        raise RuntimeError(f"Clinic settings file {path} must hold a mapping.")
    return data


def load_settings(
    path: Optional[Path] = None, environ: Optional[Mapping[str, str]] = None
) -> Settings:
    """Read settings from the YAML file, then apply environment overrides.

    ``environ``: the process environment when None (the only read of ``os.environ``).
    """
    env = Environment.from_environ(os.environ if environ is None else environ)
    config_path = Path(path or env.clinic_config or DEFAULT_CONFIG)
    data = _read_yaml(config_path)
    sections: Dict[str, Dict[str, Any]] = {
        name: dict(data.get(name) or {}) for name in ("clinic", "article", "paper")
    }
    for item in variables():
        value = getattr(env, item.attribute)
        if item.overrides and value:
            section, key = item.overrides
            sections[section][key] = value
    resources = [
        CrisisResource(str(item["name"]), str(item["phone"]), str(item["when"]),
                       str(item.get("role") or ""))
        for item in data.get("crisis_resources") or []
    ]
    if not resources:
        raise RuntimeError(f"{config_path} lists no crisis_resources; the assistant needs them.")
    return Settings(
        clinic=sections["clinic"],
        article=sections["article"],
        paper=sections["paper"],
        crisis_resources=resources,
        database_url=env.database_url,
        extra={k: v for k, v in data.items() if k not in sections and k != "crisis_resources"},
        env=env,
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read on first use (never at import time).

    A test that changes the environment calls ``get_settings.cache_clear()`` (tests/conftest.py
    clears it around every test).
    """
    return load_settings()


def environment(environ: Optional[Mapping[str, str]] = None) -> Environment:
    """The variables of ``environ`` (e.g. a child process's), else of this process."""
    return get_settings().env if environ is None else Environment.from_environ(environ)
