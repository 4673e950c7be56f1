"""Message metadata kept to a short allow-list (issue 16, item 4).

Rasa stores a message's ``metadata`` with the conversation exactly as the client sent it,
keys and values, unmasked; a client could also pre-fill ``model_id``, which Rasa then keeps
instead of the real model's. The assistant itself reads only two keys, both set by the
messaging channels (``bot.channels.messaging``): ``channel`` (the reply profile) and
``option`` (the numbered option a bare number picked). Only those, in their expected shape,
are kept; everything else is dropped before the message reaches Rasa.

A REST client may send only the keys listed under ``metadata.rest_keys`` in
``config/clinic.yml`` (none by default: the widget sends none).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Mapping, Optional

from bot.channels.format import PROFILES

MAX_TITLE_CHARS = 200


def _channel(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value in PROFILES else None


def _option(value: Any) -> Optional[Dict[str, Any]]:
    if not isinstance(value, Mapping):
        return None
    number, title = value.get("number"), value.get("title")
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 100:
        return None
    if not isinstance(title, str):
        return None
    return {"number": number, "title": title[:MAX_TITLE_CHARS]}


# key -> the value to keep (None: drop it)
ALLOWED: Dict[str, Callable[[Any], Any]] = {"channel": _channel, "option": _option}


def keep_allowed(metadata: Any, keys: Iterable[str] = ALLOWED) -> Optional[Dict[str, Any]]:
    """The allow-listed part of ``metadata`` (only ``keys`` of it); None when nothing is left."""
    if not isinstance(metadata, Mapping):
        return None
    kept = {}
    for key in keys:
        check = ALLOWED.get(key)
        if check is not None and key in metadata:
            value = check(metadata[key])
            if value is not None:
                kept[key] = value
    return kept or None


def rest_keys() -> list[str]:
    """The metadata keys a REST client may send (``metadata.rest_keys`` in the settings)."""
    from bot.settings import get_settings

    section = get_settings().extra.get("metadata") or {}
    keys = section.get("rest_keys") if isinstance(section, Mapping) else None
    return [str(key) for key in keys or [] if str(key) in ALLOWED]
