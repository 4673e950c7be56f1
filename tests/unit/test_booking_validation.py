"""What people type during booking: which answers are taken, how they are kept, why others are refused."""

from __future__ import annotations

import pytest

from bot.booking import CONTACT, NAME, REASON, TIMES
from bot.booking import validation as v
from bot.messages import message


@pytest.mark.parametrize(
    "text, stored",
    [
        ("jane.doe@example.com", "jane.doe@example.com"),
        ("my email is mark_t88@gmail.com", "mark_t88@gmail.com"),
        ("it's K.Patel@Shaw.CA", "K.Patel@shaw.ca"),  # the domain is case-insensitive
        ("you can reach me at tina.lee@hotmail.com.", "tina.lee@hotmail.com"),
        ("<o'brien+clinic@example.org>", "o'brien+clinic@example.org"),
    ],
)
def test_valid_emails_are_kept_normalised(text: str, stored: str) -> None:
    outcome = v.check_contact(text)
    assert (outcome.value, outcome.kind, outcome.error) == (stored, "email", None)


@pytest.mark.parametrize(
    "text",
    ["bob@example", "bob@@example.com", "bob@example..com", "@example.com", "bob@.com",
     "bob.@example.com", "b ob@exa mple", "x@y.z"],
)
def test_invalid_emails_are_refused_with_a_reason(text: str) -> None:
    outcome = v.check_contact(text)
    assert outcome.value is None
    assert outcome.error == "email_invalid"
    assert "@" in message(f"booking.invalid.{outcome.error}")


@pytest.mark.parametrize(
    "text, stored, shown",
    [
        ("780-555-0134", "+17805550134", "(780) 555-0134"),
        ("(825) 555-0178", "+18255550178", "(825) 555-0178"),
        ("+1 (403) 555 0199", "+14035550199", "(403) 555-0199"),
        ("587 555 0123", "+15875550123", "(587) 555-0123"),
        ("4035550142", "+14035550142", "(403) 555-0142"),
        ("my number is 780.555.0166", "+17805550166", "(780) 555-0166"),
        ("1-800-555-0111", "+18005550111", "(800) 555-0111"),
        ("403 555 0142 ext. 27", "+14035550142 ext. 27", "(403) 555-0142 ext. 27"),
        ("+44 20 7946 0958", "+442079460958", "+442079460958"),
    ],
)
def test_canadian_phone_formats_are_normalised(text: str, stored: str, shown: str) -> None:
    outcome = v.check_contact(text)
    assert (outcome.value, outcome.kind) == (stored, "phone")
    assert v.display_contact(outcome.value, outcome.kind) == shown


@pytest.mark.parametrize(
    "text, error",
    [
        ("555-0142", "phone_area_code"),  # no area code
        ("123-456-7890", "phone_invalid"),  # area codes never start with 1
        ("403-155-0142", "phone_invalid"),  # nor exchanges
        ("911-555-0142", "phone_invalid"),  # N11 is not an area code
        ("403-555-01", "phone_invalid"),
        ("+1 403 555 01420", "phone_invalid"),
        ("call me maybe", "contact_missing"),
        ("", "contact_missing"),
    ],
)
def test_invalid_phones_are_refused_with_a_reason(text: str, error: str) -> None:
    outcome = v.check_contact(text)
    assert (outcome.value, outcome.error) == (None, error)
    assert message(f"booking.invalid.{error}")


def test_the_first_contact_given_is_used() -> None:
    assert v.check_contact("403-555-0142 or a@example.com").kind == "phone"
    assert v.check_contact("a@example.com, or 403-555-0142").kind == "email"


def test_digits_inside_an_email_are_not_a_phone() -> None:
    outcome = v.check_contact("4035550142@textmsg.example.com")
    assert (outcome.kind, outcome.value) == ("email", "4035550142@textmsg.example.com")


@pytest.mark.parametrize(
    "text, name",
    [
        ("Maria Gonzalez", "Maria Gonzalez"),
        ("my name is Priya Sharma", "Priya Sharma"),
        ("I'm Kevin O\u2019Brien", "Kevin O'Brien"),
        ("call me Liz.", "Liz"),
        ("Jean-Luc Tremblay", "Jean-Luc Tremblay"),
        ("Im Soo-jin", "Im Soo-jin"),  # a surname, not "I'm"
        ("Zo\u00eb  \t  Nakamura", "Zo\u00eb Nakamura"),
    ],
)
def test_names_are_kept_as_given(text: str, name: str) -> None:
    assert v.check_name(text).value == name


@pytest.mark.parametrize(
    "text, error",
    [("", "name_missing"), ("12345", "name_looks_like_contact"), ("?!", "name_missing"),
     ("bob@example.com", "name_looks_like_contact"), ("A" * 101, "name_too_long")],
)
def test_unusable_names_are_refused(text: str, error: str) -> None:
    assert v.check_name(text).error == error


def test_a_name_of_exactly_100_characters_is_accepted() -> None:
    assert v.check_name("A" * 100).ok


def test_name_and_contact_typed_together_are_split() -> None:
    name, contact = v.split_name_and_contact("John Smith, 780-555-0190") or (None, None)
    assert name is not None and contact is not None
    assert (name.value, contact.value) == ("John Smith", "+17805550190")
    assert v.split_name_and_contact("John Smith") is None


@pytest.mark.parametrize(
    "text",
    [
        "Robert'); DROP TABLE booking_requests;--",
        "<script>alert('x')</script>",
        '"Quoted" & <b>bold</b> {clinic_phone} %s',
    ],
)
def test_markup_sql_and_quotes_are_kept_literally(text: str) -> None:
    assert v.check_name(text).value == text
    assert v.check_times(text).value == text
    assert v.check_reason(text).value == text


def test_control_characters_are_dropped_and_whitespace_collapsed() -> None:
    assert v.clean("Ann\x00a\r\n  Lee\x1b[31m") == "Ann a Lee [31m"


@pytest.mark.parametrize("check", [v.check_contact, v.check_times, v.check_reason])
def test_overlong_answers_are_refused(check) -> None:  # type: ignore[no-untyped-def]
    assert check("x" * 201).error == "too_long"
    assert "200" in message("booking.invalid.too_long")


def test_200_characters_of_times_are_accepted() -> None:
    assert v.check_times("t" * 200).ok


@pytest.mark.parametrize(
    "text, normalised",
    [
        ("tuesday mornings", "Tue; morning"),
        ("Thursday or Friday", "Thu, Fri"),
        ("weekdays after 5", "Mon, Tue, Wed, Thu, Fri; evening; after 17:00"),
        ("Friday at 2pm", "Fri; 14:00"),
        ("next Wednesday afternoon", "Wed; afternoon"),
        ("after work, around 6", "evening; 18:00"),
        ("3:30 pm", "15:30"),
        ("tomorrow at 9", "09:00; tomorrow"),
        ("weekends", "Sat, Sun"),
        ("as early as possible", "earliest available"),
        ("March 3rd", None),
    ],
)
def test_preferred_times_are_kept_as_said_and_normalised(text: str, normalised: str) -> None:
    outcome = v.check_times(text)
    assert outcome.value == text
    assert outcome.normalised == normalised


@pytest.mark.parametrize("text", ["  ", "skip", "Skip.", "no", "?"])
def test_times_cannot_be_skipped(text: str) -> None:
    assert v.check_times(text).error == "times_missing"
    assert "any time" in message("booking.invalid.times_missing")


@pytest.mark.parametrize("text", ["skip", "Skip.", "no", "No thanks", "n/a", "none", "nope"])
def test_reason_can_be_skipped(text: str) -> None:
    assert v.check_reason(text).value == ""


def test_the_skip_button_counts_as_no_reason() -> None:
    assert v.check_reason("/deny", intent="deny").value == ""


def test_a_real_reason_is_kept() -> None:
    assert v.check_reason("IBS and anxiety, no meds").value == "IBS and anxiety, no meds"


@pytest.mark.parametrize(
    "text, answer",
    [("yes", True), ("Yes, send it", True), ("I agree", True), ("sure", True), ("ok!", True),
     ("no", False), ("Nope.", False), ("I don't agree", False), ("do not", False),
     ("what do you mean?", None), ("maybe", None)],
)
def test_yes_or_no(text: str, answer: bool) -> None:
    assert v.yes_or_no(text) is answer


def test_button_payloads_answer_through_the_intent() -> None:
    assert v.yes_or_no("/affirm", "affirm", 1.0) is True
    assert v.yes_or_no("/deny", "deny", 1.0) is False
    assert v.yes_or_no("hmm", "affirm", 0.4) is None  # an unsure classifier is not a yes


@pytest.mark.parametrize(
    "text, value",
    [
        ("actually my email is jo@example.com", "jo@example.com"),
        ("my phone is 403 555 0101", "403 555 0101"),
        ("Sorry, my number should be 780-555-0134", "780-555-0134"),
        ("change my email to a@b.co", "a@b.co"),
        ("actually, it's sam@example.ca", "it's sam@example.ca"),
    ],
)
def test_contact_corrections_are_recognised(text: str, value: str) -> None:
    assert v.contact_correction(text) == value
    assert v.check_contact(value).ok


@pytest.mark.parametrize(
    "text", ["my phone is always off", "Actually, Tuesday works better", "Maria", "x" * 300]
)
def test_other_answers_are_not_corrections(text: str) -> None:
    assert v.contact_correction(text) is None


@pytest.mark.parametrize(
    "text, slot",
    [("name", NAME), ("1", NAME), ("the email", CONTACT), ("email or phone", CONTACT),
     ("preferred times", TIMES), ("the day", TIMES), ("reason", REASON), ("4", REASON),
     ("hmm", None)],
)
def test_chosen_field(text: str, slot: str) -> None:
    assert v.chosen_field(text) == slot
