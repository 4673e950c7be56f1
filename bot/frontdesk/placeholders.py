"""The shipped placeholders (``.example`` links, 555 numbers) must not reach people.

``make run`` warns once while config/clinic.yml still holds them; the production start
(``make run-prod``) and the Kubernetes pods (an init container running
``python -m bot deploy check-placeholders``) refuse to start. ``ALLOW_PLACEHOLDERS=1``
lets a test set-up on one machine start anyway; a clinic never sets it.
"""

from __future__ import annotations

from typing import List, Mapping, Optional

from bot.frontdesk.answers import placeholder_problems, unfilled_details
from bot.settings import environment, load_settings

ALLOW = "ALLOW_PLACEHOLDERS"


def problems(environ: Optional[Mapping[str, str]] = None) -> List[str]:
    return placeholder_problems(load_settings(environ=environ))


def warning(environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The one warning ``make run`` prints, or None when the settings are the clinic's own."""
    settings = load_settings(environ=environ)
    found = placeholder_problems(settings)
    empty = unfilled_details(settings)
    if not found and not empty:
        return None
    lines = []
    if found:
        lines.append(f"Warning: config/clinic.yml still holds {len(found)} placeholder(s); "
                     "set the clinic's real ones before going live (make run-prod refuses):")
        lines += [f"  - {item}" for item in found]
    if empty:
        lines.append("Not filled in (answered with \"please call us\"): " + ", ".join(empty))
    return "\n".join(lines)


def refuse_placeholders(environ: Optional[Mapping[str, str]] = None) -> None:
    """Raise RuntimeError naming every placeholder, unless ALLOW_PLACEHOLDERS=1."""
    if environment(environ).allow_placeholders:
        return
    found = problems(environ)
    if found:
        raise RuntimeError(
            "refusing to start in production with placeholder clinic settings "
            "(config/clinic.yml or the environment):\n  - " + "\n  - ".join(found))
