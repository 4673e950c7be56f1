"""One assistant reply as data: topic, text parts, source line, citations, buttons, resources.

Actions build a :class:`Reply` and send it as ONE bot message (:func:`to_message`): the
``custom`` object carries everything (the reply contract's ``topic``, ``citations``,
``resources``, ``step``... plus ``parts``, ``source`` and ``buttons``), and ``text`` is the
reply laid out for a channel that shows text only (:func:`text_only`), which is what REST
clients read and the conversation stores. Nothing takes that text apart again: the
messaging channels (``bot.channels.format``) and the widget (``clinic-chat.js``) lay out
their own text from the ``custom`` object.

The contract's keys are unchanged, so a REST client sees the same two entries as before
(Rasa's REST channel sends a message's text and its ``custom`` object as two entries).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

# Keys of ``custom`` that belong to the reply itself rather than to the contract's details.
PARTS = "parts"
SOURCE = "source"
BUTTONS = "buttons"
CITATIONS = "citations"
RESOURCES = "resources"
TOPIC = "topic"
LAYOUT_KEYS = (PARTS, SOURCE, BUTTONS)
"""What ``custom`` carries beyond the reply contract's keys: the pieces renderers lay out."""
_OWN_KEYS = (TOPIC, CITATIONS, RESOURCES) + LAYOUT_KEYS


@dataclass(frozen=True)
class Reply:
    """What the assistant says in one message, before any channel lays it out.

    ``parts`` are the paragraphs in plain words; crisis ``resources`` follow the first one
    (the lead-in) wherever text lists them. ``source`` is the short source line a text-only
    channel ends with ("" when the text shows none; a channel may still cite
    ``citations``). ``details`` are the contract's other keys (``step``, ``reference``,
    ``error``, ``clarify``...).
    """

    topic: str
    parts: Tuple[str, ...] = ()
    source: str = ""
    citations: Tuple[Mapping[str, Any], ...] = ()
    buttons: Tuple[Mapping[str, str], ...] = ()
    resources: Tuple[Mapping[str, Any], ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        topic: str,
        *parts: str,
        source: str = "",
        citations: Iterable[Mapping[str, Any]] = (),
        buttons: Optional[Iterable[Mapping[str, str]]] = None,
        resources: Iterable[Mapping[str, Any]] = (),
        **details: Any,
    ) -> "Reply":
        return cls(topic, tuple(p for p in parts if p), source, tuple(citations),
                   tuple(buttons or ()), tuple(resources), dict(details))

    @property
    def text(self) -> str:
        """The text-only layout (:func:`text_only`)."""
        return text_only(self)

    def payload(self) -> Dict[str, Any]:
        """The ``custom`` object: the contract's keys, then the reply's own."""
        custom: Dict[str, Any] = {TOPIC: self.topic, **self.details}
        if self.citations:
            custom[CITATIONS] = [dict(c) for c in self.citations]
        if self.resources:
            custom[RESOURCES] = [dict(r) for r in self.resources]
        custom[PARTS] = list(self.parts)
        if self.source:
            custom[SOURCE] = self.source
        if self.buttons:
            custom[BUTTONS] = [dict(b) for b in self.buttons]
        return custom


def _dicts(value: Any) -> Tuple[Mapping[str, Any], ...]:
    return tuple(v for v in value if isinstance(v, Mapping)) if isinstance(value, list) else ()


def from_message(message: Mapping[str, Any]) -> Optional[Reply]:
    """The reply a bot message carries, or None for a message with no ``custom`` object.

    A ``custom`` object without ``parts`` (a domain response, the apology, a turn stored
    before replies were structured) stands for the message's own text.
    """
    custom = message.get("custom")
    if not isinstance(custom, Mapping):
        return None
    parts = custom.get(PARTS)
    if isinstance(parts, list):
        texts = tuple(str(p) for p in parts if p)
    else:
        text = str(message.get("text") or "").strip()
        texts = (text,) if text else ()
    buttons = _dicts(custom.get(BUTTONS)) or _dicts(message.get(BUTTONS))
    return Reply(
        topic=str(custom.get(TOPIC) or ""),
        parts=texts,
        source=str(custom.get(SOURCE) or ""),
        citations=_dicts(custom.get(CITATIONS)),
        buttons=buttons,
        resources=_dicts(custom.get(RESOURCES)),
        details={k: v for k, v in custom.items() if k not in _OWN_KEYS},
    )


def resource_line(resource: Mapping[str, Any]) -> str:
    """One crisis line as text: ``- 988 Suicide Crisis Helpline: 988. Call or text ...``."""
    return f"- {resource.get('name', '')}: {resource.get('phone', '')}. " \
           f"{resource.get('when', '')}".strip()


def body_lines(reply: Reply, resources: Optional[Sequence[Mapping[str, Any]]] = None) -> List[str]:
    """The lead-in, a line per crisis resource, the other parts (no source line)."""
    listed = reply.resources if resources is None else resources
    parts = list(reply.parts)
    return parts[:1] + [resource_line(r) for r in listed] + parts[1:]


def text_only(reply: Reply) -> str:
    """The reply as a channel that shows text only reads it (and REST's ``text``)."""
    lines = body_lines(reply)
    if reply.source:
        lines.append(reply.source)
    return "\n".join(lines)


def to_message(reply: Reply) -> Dict[str, Any]:
    """Keyword arguments for ``dispatcher.utter_message``: one message, text and payload."""
    return {
        "text": text_only(reply),
        "buttons": [dict(b) for b in reply.buttons],
        "json_message": reply.payload(),
    }
