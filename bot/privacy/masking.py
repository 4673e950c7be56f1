"""Masking what a person typed into the booking form, in a stored conversation.

A booking request is kept in the bookings table; the conversation that collected it must
not keep a second copy. Once the form is over (stored, declined, cancelled or abandoned),
the tracker store rewrites the conversation's stored events with ``mask_events``:

- the form's slots that held personal details are set to null;
- what the person typed while the form asked for a name, contact, times or reason is
  replaced by ``[removed]``;
- every other occurrence of those details (the read-back, "Thanks, Maria", the template
  values Rasa keeps in a bot message's metadata, a correction typed at another step) is
  replaced too, and so is any email address or phone number in the person's own messages.

Events are plain dicts (Rasa's ``Event.as_dict()``), so this module does not import Rasa.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Iterable, List, Mapping, Optional, Pattern, Sequence, Set

from bot.booking import CONTACT, CONTACT_KIND, FORM, NAME, REASON, TIMES, TIMES_NORMALISED
from bot.booking.validation import display_contact
from bot.contacts import mask_contacts, values_pattern
from bot.privacy import MASK

# Slots whose question invites personal details: the answer typed to them is masked whole.
ASKED_SLOTS = (NAME, CONTACT, TIMES, REASON)
# Slots whose values are personal details: set to null once the form is over, and their
# values masked wherever else they occur. (bot.booking.PERSONAL_SLOTS is wider: every slot
# the form fills, cleared from the tracker when it ends.)
MASKED_SLOTS = ASKED_SLOTS + (TIMES_NORMALISED,)
REQUESTED_SLOT = "requested_slot"

MIN_VALUE_CHARS = 2


def _slot(event: Mapping[str, Any]) -> Optional[str]:
    return str(event.get("name")) if event.get("event") == "slot" else None


def holds_personal_details(events: Iterable[Mapping[str, Any]]) -> bool:
    """True when a booking slot in these events still holds something a person typed."""
    return any(
        _slot(event) in MASKED_SLOTS and event.get("value") not in (None, "", MASK)
        for event in events
    )


def _personal_user_turns(events: Sequence[Mapping[str, Any]]) -> Set[int]:
    """Indexes of user messages typed while the form asked for a personal detail."""
    active_loop: Optional[str] = None
    requested: Optional[str] = None
    found: Set[int] = set()
    for index, event in enumerate(events):
        kind = event.get("event")
        if kind == "active_loop":
            active_loop = event.get("name")
        elif kind == "slot" and event.get("name") == REQUESTED_SLOT:
            requested = event.get("value")
        elif kind in ("restart", "session_started"):
            active_loop, requested = None, None
        elif kind == "user" and active_loop == FORM and requested in ASKED_SLOTS:
            found.add(index)
    return found


def _user_text(event: Mapping[str, Any]) -> str:
    return str(event.get("text") or (event.get("parse_data") or {}).get("text") or "")


def personal_values(events: Sequence[Mapping[str, Any]]) -> Set[str]:
    """Every personal detail in these events, as typed, as stored and as shown."""
    values: Set[str] = set()
    kinds = {str(e.get("value")) for e in events if _slot(e) == CONTACT_KIND and e.get("value")}
    for event in events:
        if _slot(event) in MASKED_SLOTS and isinstance(event.get("value"), str):
            value = event["value"].strip()
            if value and value != MASK:
                values.add(value)
                if _slot(event) == CONTACT:
                    values.update(display_contact(value, kind) for kind in kinds | {""})
    for index in _personal_user_turns(events):
        text = _user_text(events[index]).strip()
        if text and not text.startswith("/"):  # "/deny" (skip) is a button, not a detail
            values.add(text)
    return {value for value in values if len(value) >= MIN_VALUE_CHARS}


def _replace(node: Any, pattern: Optional[Pattern[str]], contacts: bool) -> Any:
    """``node`` with every known value (and, for a person's words, contacts) masked."""
    if isinstance(node, str):
        text = pattern.sub(MASK, node) if pattern else node
        if contacts:
            text = mask_contacts(text, MASK, MASK)
        return text
    if isinstance(node, dict):
        return {key: _replace(value, pattern, contacts) for key, value in node.items()}
    if isinstance(node, list):
        return [_replace(value, pattern, contacts) for value in node]
    return node


def mask_events(events: Sequence[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """Copies of ``events`` (one conversation, oldest first) with personal details masked."""
    pattern = values_pattern(personal_values(events))
    typed = _personal_user_turns(events)
    masked: List[Dict[str, Any]] = []
    for index, original in enumerate(events):
        event = copy.deepcopy(dict(original))
        kind = event.get("event")
        if kind == "slot" and event.get("name") in MASKED_SLOTS:
            if event.get("value") is not None:
                event["value"] = None
        elif kind == "user":
            if index in typed:
                event["text"] = MASK
                parse_data = event.get("parse_data")
                if isinstance(parse_data, dict):
                    parse_data["text"] = MASK
                    parse_data["entities"] = []
            for key in ("text", "parse_data", "metadata"):
                if key in event:
                    event[key] = _replace(event[key], pattern, contacts=True)
        elif kind == "bot":
            for key in ("text", "data", "metadata"):
                if key in event:
                    event[key] = _replace(event[key], pattern, contacts=False)
        elif kind == "slot" and isinstance(event.get("value"), (str, list, dict)):
            event["value"] = _replace(event["value"], pattern, contacts=False)
        masked.append(event)
    return masked
