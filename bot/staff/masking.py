"""Mask what identifies a person before staff read a message: emails, phone numbers, names.

Names are found from the cues people use to introduce themselves ("my name is X",
"I'm X", "call me X"), and from the values the person typed into the booking form in the
same conversation. Masking errs on the side of hiding: a capitalised word after a cue is
treated as a name.
"""

from __future__ import annotations

import re
from typing import Iterable, List, Tuple

from bot.contacts import NOT_NAMES, STRONG_NAME_CUE, WEAK_NAME_CUE, mask_contacts, values_pattern

EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"
NAME_MASK = "[name]"

# What a masked message says in training data: plain, harmless stand-ins, so the model
# learns from a natural sentence and no real person's details reach the data files.
TRAINING_STAND_INS = {EMAIL_MASK: "someone@example.com", PHONE_MASK: "555-0100", NAME_MASK: "Alex"}

def _name_spans(text: str) -> List[Tuple[int, int]]:
    spans = []
    for pattern in (STRONG_NAME_CUE, WEAK_NAME_CUE):
        for match in pattern.finditer(text):
            words = match.group("name").split()
            # keep the leading run of words that can be names
            kept = []
            for word in words:
                if word.lower().strip("'-") in NOT_NAMES:
                    break
                kept.append(word)
            if kept:
                start = match.start("name")
                end = start + len(" ".join(kept)) if len(kept) == len(words) else (
                    start + match.group("name").index(kept[-1]) + len(kept[-1])
                )
                spans.append((start, end))
    return spans


def _known_value_pattern(values: Iterable[str]) -> "re.Pattern[str] | None":
    """Whole values the person typed in the booking form, and each word of a name."""
    parts = set()
    for value in values:
        value = " ".join(str(value or "").split())
        if len(value) < 2:
            continue
        parts.add(value)
        parts.update(word for word in re.split(r"[\s,]+", value) if len(word) >= 2)
    return values_pattern(parts)


def mask(text: str, known_values: Iterable[str] = ()) -> str:
    """``text`` with emails, phone numbers and names replaced by ``[email]``, ``[phone]``, ``[name]``."""
    text = mask_contacts(text, EMAIL_MASK, PHONE_MASK)
    known = _known_value_pattern(known_values)
    if known is not None:
        text = known.sub(NAME_MASK, text)
    # replace name spans from the end so earlier offsets stay valid
    for start, end in sorted(set(_name_spans(text)), reverse=True):
        if text[start:end] in (EMAIL_MASK, PHONE_MASK, NAME_MASK):
            continue
        text = text[:start] + NAME_MASK + text[end:]
    return re.sub(r"(?:\[name\]\s+){1,}\[name\]", NAME_MASK, text)


def for_training(masked_text: str) -> str:
    """A masked message as a training example: the masks become harmless stand-ins."""
    for token, stand_in in TRAINING_STAND_INS.items():
        masked_text = masked_text.replace(token, stand_in)
    return " ".join(masked_text.split())
