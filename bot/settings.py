"""Clinic settings: one place for clinic details, citations metadata and crisis lines.

Values come from ``config/clinic.yml`` (or the file named by ``CLINIC_CONFIG``) and can be
overridden from the environment, so a deployment never edits code or commits secrets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "clinic.yml"
DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'clinic.db'}"

# Environment variable -> (section, key) it overrides.
ENV_OVERRIDES = {
    "CLINIC_NAME": ("clinic", "name"),
    "CLINIC_DOCTOR": ("clinic", "doctor"),
    "CLINIC_PHONE": ("clinic", "phone"),
    "CLINIC_BOOKING_URL": ("clinic", "booking_url"),
    "CLINIC_HOURS": ("clinic", "hours"),
    "CLINIC_PRIVACY_URL": ("clinic", "privacy_url"),
    "CLINIC_WEBSITE": ("clinic", "website"),
    "CLINIC_EMAIL": ("clinic", "email"),
    "CLINIC_TIMEZONE": ("clinic", "timezone"),
    "ARTICLE_URL": ("article", "url"),
}


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
    answer_min_confidence: float = 0.5
    database_url: str = DEFAULT_DATABASE_URL
    extra: Mapping[str, Any] = field(default_factory=dict)

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
    """Read settings from the YAML file, then apply environment overrides."""
    env = os.environ if environ is None else environ
    config_path = Path(path or env.get("CLINIC_CONFIG") or DEFAULT_CONFIG)
    data = _read_yaml(config_path)
    sections: Dict[str, Dict[str, Any]] = {
        name: dict(data.get(name) or {}) for name in ("clinic", "article", "paper")
    }
    for variable, (section, key) in ENV_OVERRIDES.items():
        if env.get(variable):
            sections[section][key] = env[variable]
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
        answer_min_confidence=float(data.get("answer_min_confidence", 0.5)),
        database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        extra={k: v for k, v in data.items() if k not in sections and k != "crisis_resources"},
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read on first use (never at import time)."""
    return load_settings()
