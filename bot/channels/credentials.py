"""Write the credentials file Rasa runs with: REST always, each messaging channel when set.

Rasa substitutes ``${VAR}`` in credentials.yml but refuses to start when a variable is
unset, so a file listing every channel would force every deployment to configure all of
them. ``credentials.yml`` in the repository is therefore the template: its live entries
(the REST channel) are always used, and the messaging channels are written there as a
commented block between the ``>>> messaging channels`` and ``<<< messaging channels``
markers. :func:`build` copies each of those entries whose ``${VARIABLES}`` are all set in
the environment; the values stay ``${VAR}`` references, so secrets never land on disk and
Rasa reads them from the environment as usual.

``python -m bot.channels.credentials [path]`` writes the file and prints what is on.
"""

from __future__ import annotations

import logging
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import yaml

from bot.settings import PROJECT_ROOT, environment

logger = logging.getLogger(__name__)

TEMPLATE = PROJECT_ROOT / "credentials.yml"
BEGIN_MARKER = "# >>> messaging channels"
END_MARKER = "# <<< messaging channels"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class ChannelPlan:
    """The credentials to write and, for the log, which channels are on or half-set."""

    config: Dict[str, Any]
    enabled: List[str] = field(default_factory=list)
    incomplete: Dict[str, List[str]] = field(default_factory=dict)


def read_template(text: str) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """(always-on entries, messaging entries) from the template's text."""
    always = yaml.safe_load(text) or {}
    lines = text.splitlines()
    try:
        begin = next(i for i, line in enumerate(lines) if line.strip() == BEGIN_MARKER)
        end = next(i for i, line in enumerate(lines) if line.strip() == END_MARKER)
    except StopIteration:
        return always, {}
    block = []
    for line in lines[begin + 1:end]:
        stripped = line.lstrip()
        if not stripped.startswith("#"):
            raise ValueError(f"credentials template: line {line!r} inside the messaging block "
                             "must be commented out")
        content = stripped[1:]
        block.append(content[1:] if content.startswith(" ") else content)
    messaging = yaml.safe_load("\n".join(block)) or {}
    if not isinstance(always, dict) or not isinstance(messaging, dict):
        raise ValueError("credentials template must map channel classes to settings")
    return always, messaging


def variables(entry: Any) -> List[str]:
    """The ``${VAR}`` names an entry refers to, in order."""
    found: List[str] = []
    if isinstance(entry, dict):
        for value in entry.values():
            found += variables(value)
    elif isinstance(entry, list):
        for value in entry:
            found += variables(value)
    elif isinstance(entry, str):
        found += _VARIABLE.findall(entry)
    return list(dict.fromkeys(found))


def short_name(channel_class: str) -> str:
    return channel_class.rsplit(".", 1)[-1].replace("Clinic", "").replace("Input", "").lower()


def build(environ: Mapping[str, str], template_text: str) -> ChannelPlan:
    """The credentials for this environment: always-on entries plus the complete channels."""
    always, messaging = read_template(template_text)
    plan = ChannelPlan(config=dict(always))
    for channel_class, entry in messaging.items():
        needed = variables(entry)
        missing = [name for name in needed if not environ.get(name)]
        if not missing:
            plan.config[channel_class] = entry
            plan.enabled.append(short_name(channel_class))
        elif len(missing) < len(needed):
            plan.incomplete[short_name(channel_class)] = missing
    return plan


def write_credentials(
    path: Path, environ: Optional[Mapping[str, str]] = None, template: Path = TEMPLATE
) -> Path:
    """Write the credentials for ``environ`` to ``path``; log which channels are on."""
    env = environment().as_environ() if environ is None else environ
    plan = build(env, template.read_text(encoding="utf-8"))
    for channel, missing in plan.incomplete.items():
        logger.warning("%s channel is off: %s not set", channel, ", ".join(missing))
    logger.info("messaging channels on: %s", ", ".join(plan.enabled) or "none")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"# Generated from {template.name} by bot/channels/credentials.py; set the channel's\n"
        "# environment variables to turn it on (README: \"Connect a channel\").\n"
        + yaml.safe_dump(plan.config, sort_keys=False),
        encoding="utf-8",
    )
    return path


def main(argv: List[str]) -> int:
    target = Path(argv[0]) if argv else PROJECT_ROOT / "var" / "run" / "credentials.yml"
    plan = build(environment().as_environ(), TEMPLATE.read_text(encoding="utf-8"))
    write_credentials(target)
    print(f"Wrote {target}; messaging channels on: {', '.join(plan.enabled) or 'none'}")
    for channel, missing in plan.incomplete.items():
        print(f"  {channel} is off: set {', '.join(missing)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
