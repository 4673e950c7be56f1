"""Staff never see who wrote a message: emails, phone numbers and names are masked."""

from __future__ import annotations

import pytest

from bot.staff.masking import for_training, mask


@pytest.mark.parametrize(
    ("text", "hidden", "kept"),
    [
        ("email me at sarah.connor@example.co.uk please", ["sarah.connor"], ["email me at [email]"]),
        ("call +1 (403) 555-0199 or 403.555.0199", ["555", "403"], ["call [phone] or [phone]"]),
        ("my number is 4035550199", ["4035550199"], ["[phone]"]),
        ("Hi, my name is Sarah Connor and I have IBS", ["Sarah", "Connor"], ["[name]", "I have IBS"]),
        ("my name is sarah jones, is kombucha ok", ["sarah", "jones"], ["is kombucha ok"]),
        ("I'm Tom. Does stress hurt the gut?", ["Tom"], ["I'm [name]."]),
        ("im Bob Smith from Calgary", ["Bob", "Smith"], ["from Calgary"]),
        ("call me Jo, thanks", ["Jo"], ["call me [name]"]),
        ("Thanks, Maria", ["Maria"], ["Thanks, [name]"]),
    ],
)
def test_identifying_details_are_masked(text: str, hidden: list, kept: list) -> None:
    masked = mask(text)
    for secret in hidden:
        assert secret not in masked, masked
    for part in kept:
        assert part in masked, masked


@pytest.mark.parametrize(
    "text",
    [
        "I'm worried that my gut affects my mood",
        "I am Anxious all the time, is that the gut?",
        "studies from 2022 say 100 trillion microbes",
        "what does Dr. Derek Cook treat",
        "is GABA made in the gut",
    ],
)
def test_ordinary_questions_are_left_alone(text: str) -> None:
    assert mask(text) == text


def test_values_typed_into_the_booking_form_are_masked_anywhere_in_the_conversation() -> None:
    masked = mask("can jane DOE come on tuesday? write to jd@x.org", ["Jane Doe", "jd@x.org"])
    assert "jane" not in masked.lower() and "doe" not in masked.lower()
    assert "jd@x.org" not in masked
    assert "come on tuesday" in masked


def test_training_examples_get_harmless_stand_ins_not_mask_tokens() -> None:
    example = for_training(mask("I'm Sarah, reach me at s@x.io: does kombucha help?"))
    assert "[" not in example and "Sarah" not in example and "s@x.io" not in example
    assert example.endswith("does kombucha help?")
