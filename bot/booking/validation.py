"""Check and normalise what people type during booking (pure functions, no Rasa).

Each check returns an :class:`Outcome`: the value to keep, or the key of the reason it was
refused (``booking.invalid.<key>`` in ``config/messages.yml``), so the person is told why.
Values are kept as typed apart from whitespace and control characters: quotes, SQL and
markup are data, and the SQL layer binds them as parameters.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import List, Optional, Tuple

from bot.booking import CONTACT, NAME, REASON, TIMES
from bot.contacts import (
    EMAIL_ADDRESS,
    EMAIL_LOCAL_MAX,
    EMAIL_MAX,
    NAME_INTRODUCTION,
    PHONE_CANDIDATE,
)

NAME_MAX = 100
TEXT_MAX = 200

EMAIL = "email"
PHONE = "phone"


@dataclass(frozen=True)
class Outcome:
    """A checked value, or why it was refused."""

    value: Optional[str] = None
    error: Optional[str] = None
    kind: Optional[str] = None  # contact: "email" or "phone"
    normalised: Optional[str] = None  # times: days and times of day picked out

    @property
    def ok(self) -> bool:
        return self.error is None


def clean(text: object) -> str:
    """Drop control characters (NUL breaks PostgreSQL) and collapse whitespace."""
    raw = "" if text is None else str(text)
    printable = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in raw)
    return " ".join(printable.split())


def _words(text: str) -> str:
    """Lower-case words only, for matching short answers like "yes" or "skip"."""
    return " ".join(re.findall(r"[a-z0-9']+", text.lower().replace("\u2019", "'")))


# --- name ---------------------------------------------------------------------------

# A short capitalised phrase at the name step is taken as the name even when the classifier
# guessed a knowledge topic for it ("Sam Okafor" -> sources, 0.58), unless it was this sure.
NAME_OVERRIDE_MAX_CONFIDENCE = 0.9
_NAME_PARTICLES = {"de", "da", "del", "della", "di", "du", "van", "von", "der", "den", "le",
                   "la", "bin", "bint", "al", "el", "ibn", "y", "e"}


def looks_like_name(text: object) -> bool:
    """1-5 capitalised words without digits or a question mark: "Sam Okafor", "Zoë de Vries"."""
    value = clean(text)
    words = value.replace(",", " ").split()
    if not 1 <= len(words) <= 5 or len(value) > NAME_MAX or re.search(r"[\d?@/<>{}]", value):
        return False
    if not any(ch.islower() for ch in value):
        return False  # "IBS", "FMT": topics, not names
    return all(word[0].isupper() or word.lower() in _NAME_PARTICLES for word in words)


# Words that ask to stop the booking. The classifier sometimes files a name under `cancel`
# ("Olivia Nguyen"); a name-like answer without one of these is taken as the name.
_CANCEL_WORDS = re.compile(
    r"\b(?:cancel\w*|stop\w*|quit|exit|abort|end|never\s*mind|nevermind|nvm|forget|changed?"
    r"|don'?t|do not|not now|let'?s not|scratch|call it off|drop it|leave it|undo|later|another"
    r"|no|nope|nah|annul\w*|arr[eê]t\w*)\b",
    re.IGNORECASE,
)


def asks_to_cancel(text: object) -> bool:
    """True when the message says, in words, to stop: "cancel", "never mind", "no, stop"."""
    return bool(_CANCEL_WORDS.search(clean(text).replace("\u2019", "'")))


def check_name(text: object) -> Outcome:
    """A name as the person gives it, without "my name is"."""
    value = clean(text)
    if len(value) > NAME_MAX:
        return Outcome(error="name_too_long")
    value = NAME_INTRODUCTION.sub("", value.replace("\u2019", "'")).strip(" .,!")
    if "@" in value or len(re.sub(r"\D", "", value)) >= 5:
        return Outcome(error="name_looks_like_contact")
    if not value or not any(ch.isalpha() for ch in value):
        return Outcome(error="name_missing")
    return Outcome(value=value)


# --- contact ------------------------------------------------------------------------

_TOKEN_EDGES = "\"'`()[]{}<>,;:!?"


def _email_tokens(text: str) -> List[Tuple[int, int, str]]:
    """Every whitespace-separated token holding an ``@``, with its span in the text."""
    tokens = []
    for match in re.finditer(r"\S+", text):
        token = match.group().strip(_TOKEN_EDGES)
        if token.lower().startswith("mailto:"):
            token = token[len("mailto:"):]
        token = token.rstrip(".")
        if "@" in token:
            tokens.append((match.start(), match.end(), token))
    return tokens


def check_email(token: str) -> Outcome:
    match = EMAIL_ADDRESS.match(token)
    if not match or len(token) > EMAIL_MAX or len(match.group("local")) > EMAIL_LOCAL_MAX:
        return Outcome(error="email_invalid")
    return Outcome(value=f"{match.group('local')}@{match.group('domain').lower()}", kind=EMAIL)


def _nanp(digits: str) -> bool:
    """A Canadian or US number: area code and exchange start 2-9, no N11 area code."""
    area, exchange = digits[:3], digits[3:6]
    return area[0] in "23456789" and area[1:] != "11" and exchange[0] in "23456789"


def check_phone(number: str, extension: Optional[str] = None) -> Outcome:
    """Canadian formats (403-555-0142, (403) 555 0142, +1 403 555 0142, 1-403-...)."""
    digits = re.sub(r"\D", "", number)
    international = number.strip().startswith("+")
    if international and not digits.startswith("1"):
        if not 8 <= len(digits) <= 15:
            return Outcome(error="phone_invalid")
        value = "+" + digits
    else:
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
        if len(digits) == 7:
            return Outcome(error="phone_area_code")
        if len(digits) != 10 or not _nanp(digits):
            return Outcome(error="phone_invalid")
        value = "+1" + digits
    if extension:
        value += f" ext. {extension}"
    return Outcome(value=value, kind=PHONE)


def check_contact(text: object) -> Outcome:
    """An email address or phone number found in the text (the first one given)."""
    value = clean(text)
    if len(value) > TEXT_MAX:
        return Outcome(error="too_long")
    candidates: List[Tuple[int, Outcome]] = []
    spans = _email_tokens(value)
    for start, _end, token in spans:
        candidates.append((start, check_email(token)))
    for match in PHONE_CANDIDATE.finditer(value):
        if any(start <= match.start() < end for start, end, _ in spans):
            continue  # digits inside an email address
        candidates.append((match.start(), check_phone(match.group("number"), match.group("ext"))))
    if not candidates:
        digits = re.sub(r"\D", "", value)
        if 5 <= len(digits) <= 9:
            return Outcome(error="phone_area_code" if len(digits) == 7 else "phone_invalid")
        return Outcome(error="contact_missing")
    valid = [outcome for _, outcome in sorted(candidates, key=lambda c: c[0]) if outcome.ok]
    if valid:
        return valid[0]
    return sorted(candidates, key=lambda c: c[0])[0][1]


def split_name_and_contact(text: object) -> Optional[Tuple[Outcome, Outcome]]:
    """A name and a contact given together ("John Smith, 780-555-0190"), if both check out."""
    parts = [part for part in re.split(r"\s*[,;]\s*|\s+-\s+", clean(text)) if part]
    if len(parts) != 2:
        return None
    for name_part, contact_part in (parts, parts[::-1]):
        name, contact = check_name(name_part), check_contact(contact_part)
        if name.ok and contact.ok:
            return name, contact
    return None


def display_contact(value: Optional[str], kind: Optional[str] = None) -> str:
    """How a stored contact is shown to people: (403) 555-0142 ext. 12, or the email."""
    if not value:
        return ""
    match = re.match(r"^\+1(\d{3})(\d{3})(\d{4})(.*)$", value)
    if match and (kind in (None, PHONE)):
        return f"({match.group(1)}) {match.group(2)}-{match.group(3)}{match.group(4)}"
    return value


_FIELD = (
    r"(?:e-?mail(?:\s+address)?|phone(?:\s+number)?|(?:cell|mobile)(?:\s+(?:phone|number))?|"
    r"number|contact(?:\s+(?:info|details))?)"
)
_CORRECTION = re.compile(
    rf"\b(?:my|the)\s+(?:new\s+|correct\s+)?{_FIELD}\s*(?:is|should\s+be|to|:|=)\s*(?P<value>\S.*)$",
    re.IGNORECASE,
)
_CORRECTION_LEAD = re.compile(
    r"^\s*(?:actually|sorry|correction|oops|wait|no)\b[\s,:!-]*(?P<value>.+)$", re.IGNORECASE
)


def _looks_like_contact(text: str) -> bool:
    return "@" in text or len(re.sub(r"\D", "", text)) >= 7


def contact_correction(text: object) -> Optional[str]:
    """The new contact in "actually my email is ..." or "my phone is ...", else None.

    Only text that carries an address or a phone-length number counts, so a reason like
    "my phone is always off" is not taken for a correction.
    """
    value = clean(text)
    if len(value) > TEXT_MAX:
        return None
    for pattern in (_CORRECTION, _CORRECTION_LEAD):
        match = pattern.search(value)
        if match and _looks_like_contact(match.group("value")):
            return match.group("value").strip()
    return None


# --- preferred times ----------------------------------------------------------------

_DAYS = (
    ("Mon", r"mon(?:day)?s?"),
    ("Tue", r"tue(?:s(?:day)?)?s?"),
    ("Wed", r"wed(?:s|nesday)?s?"),
    ("Thu", r"thu(?:r(?:s(?:day)?)?)?s?"),
    ("Fri", r"fri(?:day)?s?"),
    ("Sat", r"sat(?:urday)?s?"),
    ("Sun", r"sun(?:day)?s?"),
)
_WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri"]
_PARTS = (
    ("morning", r"mornings?|before\s+noon|early\s+in\s+the\s+day"),
    ("midday", r"lunch(?:time)?|noon|midday"),
    ("afternoon", r"afternoons?|after\s+lunch"),
    ("evening", r"evenings?|after\s+work|nights?|after\s+(?:5|6|five|six)(?!\d)"),
)
_RELATIVE = (
    ("today", r"today"),
    ("tomorrow", r"tomorrow"),
    ("this week", r"this\s+week"),
    ("next week", r"next\s+week"),
    ("next month", r"next\s+month"),
    ("earliest available", r"asap|as\s+soon\s+as\s+possible|as\s+early\s+as\s+possible|soonest"),
    ("any time", r"any\s*time|any\s+day|whenever|flexible|no\s+preference"),
)
_CLOCK = re.compile(
    r"\b(?:(?P<at>at|around|after|before|by)\s+)?(?P<hour>\d{1,2})(?::(?P<minute>[0-5]\d))?"
    r"\s*(?P<ampm>a\.?m\.?|p\.?m\.?)?(?=\W|$)",
    re.IGNORECASE,
)


def _clock_times(text: str) -> List[str]:
    times = []
    for match in _CLOCK.finditer(text):
        hour, ampm, at = int(match.group("hour")), (match.group("ampm") or ""), match.group("at")
        if not ampm and not at and not match.group("minute"):
            continue  # a bare number: a date ("the 14th") or a count, not a time
        if hour > 23 or (ampm and not 1 <= hour <= 12):
            continue
        if ampm.lower().startswith("p") and hour != 12:
            hour += 12
        elif ampm.lower().startswith("a") and hour == 12:
            hour = 0
        elif not ampm and 1 <= hour <= 7:
            hour += 12  # "at 3" during clinic hours means the afternoon
        label = f"{hour:02d}:{match.group('minute') or '00'}"
        if at and at.lower() in ("after", "before"):
            label = f"{at.lower()} {label}"
        if label not in times:
            times.append(label)
    return times


def normalise_times(text: str) -> Optional[str]:
    """Days, parts of the day and clock times picked out of free text, or None.

    "tuesday and thursday mornings" -> "Tue, Thu; morning"; "weekdays after 5" ->
    "Mon, Tue, Wed, Thu, Fri; evening; after 17:00".
    """
    lowered = text.lower().replace("\u2019", "'")
    days: List[str] = []
    if re.search(r"\bweekdays?\b|\bworkdays?\b|\bmon(?:day)?\s*(?:-|to|through)\s*fri", lowered):
        days += _WEEKDAYS
    if re.search(r"\bweekends?\b", lowered):
        days += ["Sat", "Sun"]
    for label, pattern in _DAYS:
        if re.search(rf"\b{pattern}\b", lowered) and label not in days:
            days.append(label)
    days.sort(key=[d for d, _ in _DAYS].index)
    parts = [label for label, pattern in _PARTS if re.search(rf"\b(?:{pattern})", lowered)]
    relative = [label for label, pattern in _RELATIVE if re.search(rf"\b(?:{pattern})\b", lowered)]
    groups = [", ".join(days), ", ".join(parts), ", ".join(_clock_times(lowered)),
              ", ".join(relative)]
    found = [group for group in groups if group]
    return "; ".join(found) if found else None


# Answers that skip the question; times are needed ("any time" is a fine answer).
_NOT_A_TIME = {"skip", "skip it", "pass", "no", "nope", "none", "n a", "na", "idk", "deny",
               "affirm", "yes"}


def check_times(text: object) -> Outcome:
    value = clean(text)
    if len(value) > TEXT_MAX:
        return Outcome(error="too_long")
    if not value or not any(ch.isalnum() for ch in value) or _words(value) in _NOT_A_TIME:
        return Outcome(error="times_missing")
    return Outcome(value=value, normalised=normalise_times(value))


# --- reason -------------------------------------------------------------------------

SKIP_ANSWERS = {
    "skip", "skip it", "skip this", "no", "nope", "nah", "none", "nothing", "n a", "na",
    "no thanks", "no thank you", "no reason", "pass", "not really", "rather not say",
    "i'd rather not say", "prefer not to say", "i'd rather not", "deny", "",
}


def check_reason(text: object, intent: str = "") -> Outcome:
    """The reason for the visit; "skip", "no" and the like mean none is given ("")."""
    value = clean(text)
    if len(value) > TEXT_MAX:
        return Outcome(error="too_long")
    words = _words(value)
    if words in SKIP_ANSWERS or (intent == "deny" and len(words.split()) <= 4):
        return Outcome(value="")
    return Outcome(value=value)


# --- yes / no and the fix step ------------------------------------------------------

_NO = re.compile(
    r"^(?:no|n|nope|nah|nay|negative|wrong|incorrect|not\s+really|not\s+ok(?:ay)?|"
    r"i\s+(?:do\s+not|don't|disagree)|do\s+not|don't|never)\b"
)
_YES = re.compile(
    r"^(?:yes|y|yeah|yea|yep|yup|ya|sure|ok|okay|k|correct|absolutely|definitely|agree|agreed|"
    r"i\s+agree|i\s+consent|i\s+do|consent|confirm(?:ed)?|right|perfect|affirmative|"
    r"go\s+ahead|send\s+it|please\s+do|of\s+course|that's\s+right|sounds\s+good|looks\s+good|"
    r"all\s+good)\b"
)


def yes_or_no(text: object, intent: str = "", confidence: float = 0.0) -> Optional[bool]:
    """True for yes, False for no, None when the answer is neither (ask again)."""
    words = _words(clean(text))
    if _NO.match(words):
        return False
    if _YES.match(words):
        return True
    if confidence >= 0.7 and intent in ("affirm", "deny"):
        return intent == "affirm"
    return None


_FIELD_CHOICES = (
    (NAME, r"^1$|\bname\b"),
    (CONTACT, r"^2$|\b(?:e-?mail|phone|number|contact|cell|mobile)\b"),
    (TIMES, r"^3$|\b(?:times?|days?|when|date|schedule|availability)\b"),
    (REASON, r"^4$|\b(?:reason|why)\b"),
)


def chosen_field(text: object) -> Optional[str]:
    """Which detail the person wants to change ("the email", "2", "times"), if any."""
    words = _words(clean(text))
    for slot, pattern in _FIELD_CHOICES:
        if re.search(pattern, words):
            return slot
    return None
