"""What an email address, a phone number and a name look like in what people type.

The one home of these patterns: booking validation (``bot/booking/validation.py``) checks a
contact against them, privacy masking (``bot/privacy/masking.py``) hides them in a stored
conversation and staff masking (``bot/staff/masking.py``, used by the inbox) hides them before
staff read a message. Two shapes of each:

* *to check* a value the person gave for it (strict, with the parts named): ``EMAIL_ADDRESS``,
  ``PHONE_CANDIDATE``, ``NAME_INTRODUCTION``;
* *to find* one anywhere in a text, erring on the side of hiding: ``EMAIL_IN_TEXT``,
  ``PHONE_IN_TEXT``, ``STRONG_NAME_CUE`` / ``WEAK_NAME_CUE`` (with ``NOT_NAMES``).

Pure ``re``; this module imports nothing from the project.
"""

from __future__ import annotations

import re
from typing import Iterable, Optional, Pattern

# --- email --------------------------------------------------------------------------

EMAIL_MAX = 254
EMAIL_LOCAL_MAX = 64
_EMAIL_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
# A whole address, as the booking form accepts it: ``local`` and ``domain`` named.
EMAIL_ADDRESS = re.compile(
    rf"^(?P<local>{_EMAIL_ATOM}(?:\.{_EMAIL_ATOM})*)@"
    r"(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})$"
)
# Anything shaped like an address inside a text.
EMAIL_IN_TEXT = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")

# --- phone --------------------------------------------------------------------------

# What people type between the digits of a number: spaces, brackets, dots, hyphens and dashes.
PHONE_SEPARATORS = r"\s().\-\u2010-\u2013"
# A stretch that may be a phone number (checked digit by digit by the booking form), with
# its ``number`` and an optional ``ext``ension named.
PHONE_CANDIDATE = re.compile(
    rf"(?P<number>\+?\d[\d{PHONE_SEPARATORS}]{{5,}}\d)"
    r"(?:\s*(?:ext\.?|extension|x)\s*(?P<ext>\d{1,6}))?",
    re.IGNORECASE,
)
# Seven or more digits inside a text, with the separators people type and a leading +:
# +1 (403) 555-0199, 403.555.0199, 4035550199.
PHONE_IN_TEXT = re.compile(rf"(?<![\w+])\+?\(?\d(?:[{PHONE_SEPARATORS}]*\d){{6,}}\)?(?!\d)")

# --- names --------------------------------------------------------------------------

# How a person introduces a name they are asked for ("hi, my name is", "I'm", "call me"):
# the prefix the booking form strips.
NAME_INTRODUCTION = re.compile(
    r"^(?:(?:hi|hello|hey)[,!.]?\s+)?(?:my\s+name\s+is|my\s+name's|name\s+is|name's|name:|"
    r"i\s+am|i'm|it's|it\s+is|this\s+is|call\s+me)\s+",
    re.IGNORECASE,
)
NAME_WORD = r"[A-Za-zÀ-ÖØ-öø-ÿ][A-Za-zÀ-ÖØ-öø-ÿ'\-]*"
CAPITALISED = r"[A-ZÀ-ÖØ-Þ][A-Za-zÀ-ÖØ-öø-ÿ'\-]*"
# In a text, a cue always followed by a ``name``, whatever its case ("my name is sam lee").
STRONG_NAME_CUE = re.compile(
    rf"\b(?:my\s+name\s+is|my\s+name's|my\s+names|name\s*:|call\s+me|i\s+go\s+by)\s+"
    rf"(?P<name>{NAME_WORD}(?:\s+{CAPITALISED}){{0,2}})",
    re.IGNORECASE,
)
# In a text, a cue followed by a ``name`` only when the next word is capitalised ("I'm Sarah",
# not "I'm worried"). The cue itself may be in any case; the name must be capitalised.
WEAK_NAME_CUE = re.compile(
    rf"(?i:\b(?:i\s*am|i'm|i’m|im|this\s+is|it's|it’s|its|signed|regards,?|cheers,?|thanks,?)\s+)"
    rf"(?P<name>{CAPITALISED}(?:\s+{CAPITALISED}){{0,2}})"
)
# Capitalised words a cue may be followed by that are not names.
NOT_NAMES = frozenset({
    "i", "a", "an", "the", "not", "so", "very", "really", "just", "also", "still", "here",
    "dr", "doctor", "mr", "mrs", "ms", "ok", "okay", "sure", "sorry", "new", "interested",
    "looking", "wondering", "trying", "asking", "curious", "worried", "anxious", "depressed",
    "confused", "pregnant", "sad", "scared", "afraid", "tired", "sick", "fine", "good",
    "great", "well", "glad", "happy", "on", "in", "at", "from", "with", "taking", "having",
    "feeling", "going", "about", "for", "to", "and", "but", "or", "ibs", "gaba", "fmt",
    "you", "your", "me", "my", "it", "this", "that", "what", "how", "why", "when",
})

# --- masking ------------------------------------------------------------------------


def mask_contacts(text: str, email_mask: str, phone_mask: str) -> str:
    """``text`` with every email address and phone number in it replaced by the masks."""
    return PHONE_IN_TEXT.sub(phone_mask, EMAIL_IN_TEXT.sub(email_mask, text))


def values_pattern(values: Iterable[str]) -> Optional[Pattern[str]]:
    """One case-insensitive pattern for known values, longest first, whole words only."""
    ordered = sorted(set(values), key=len, reverse=True)
    if not ordered:
        return None
    alternatives = "|".join(re.escape(value) for value in ordered)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
