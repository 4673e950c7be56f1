"""One set of contact patterns: what the booking form accepts, both maskings hide."""

from __future__ import annotations

import re

import pytest

from bot.booking.validation import check_contact
from bot.contacts import mask_contacts, values_pattern
from bot.privacy import MASK
from bot.privacy.masking import mask_events
from bot.staff.masking import mask

ACCEPTED = [
    "maria.testperson@example.com",
    "o'brien@example.ie",
    "403-555-0142",
    "(403) 555 0142",
    "+1 403 555 0142",
    "403\u2010555\u20100142",  # typed with Unicode hyphens
    "403.555.0142 x12",
    "403-555-0142ext12",
    "+44 20 7946 0958",
]


@pytest.mark.parametrize("contact", ACCEPTED)
def test_a_contact_the_booking_form_accepts_is_masked_for_staff_and_in_storage(contact: str) -> None:
    assert check_contact(contact).ok
    text = f"you can reach me on {contact} any time"
    staff = mask(text)
    stored = mask_events([{"event": "user", "text": text}])[0]["text"]
    for masked in (staff, stored):
        assert not re.search(r"@|\d{3}", masked), masked  # an extension may stay
        assert masked.startswith("you can reach me on [") and masked.endswith("any time")
    assert "[email]" in staff or "[phone]" in staff
    assert MASK in stored


def test_contacts_are_masked_and_the_rest_kept() -> None:
    assert mask_contacts("a@b.co or 403 555 0142, in 2022", "E", "P") == "E or P, in 2022"


def test_known_values_match_whole_words_longest_first() -> None:
    pattern = values_pattern(["Jo", "Jo Lee"])
    assert pattern is not None
    assert pattern.sub("X", "jo lee and Jo and Joan") == "X and X and Joan"
    assert values_pattern([]) is None
