"""Practical answers come from the clinic's settings only: hours in the clinic's time zone,
the phone number for anything not filled in, a clinic citation on every answer."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Dict

import pytest

from bot.frontdesk.answers import clinic_reply, placeholder_problems, unfilled_details
from bot.frontdesk.hours import HoursError, OpeningHours
from bot.settings import Settings, load_settings

# Thursday 3 December 2026, 17:00 UTC = 10:00 in Edmonton (MST, UTC-7).
THURSDAY_10AM = datetime(2026, 12, 3, 17, 0, tzinfo=timezone.utc)
# Friday 4 December 2026, 01:00 UTC = Thursday 18:00 in Edmonton: closed for the evening.
THURSDAY_6PM = datetime(2026, 12, 4, 1, 0, tzinfo=timezone.utc)
SATURDAY_NOON = datetime(2026, 12, 5, 19, 0, tzinfo=timezone.utc)

FILLED: Dict[str, Any] = {
    "hours": {"url": "https://clinic.test/hours", "zone_label": "Mountain Time",
              "weekly": {"monday": "09:00-17:00", "tuesday": "09:00-17:00",
                         "wednesday": "09:00-17:00", "thursday": "09:00-17:00",
                         "friday": "09:00-17:00", "saturday": "10:00-13:00", "sunday": None}},
    "location": {"url": "https://clinic.test/visit", "address": "100 Test Street, Calgary AB",
                 "parking": "Free parking behind the building.", "directions": "",
                 "online_visits": "Video visits are offered for follow-ups."},
    "fees": {"url": "https://clinic.test/fees", "initial_visit": "$195 for 75 minutes",
             "follow_up": "", "insurance": "", "direct_billing": ""},
    "first_visit": {"url": "https://clinic.test/first", "what_happens": "",
                    "duration": "About 75 minutes.", "what_to_bring": ""},
}


@pytest.fixture()
def shipped() -> Settings:
    return load_settings(environ={})


@pytest.fixture()
def filled(shipped: Settings) -> Settings:
    clinic = dict(shipped.clinic, phone="(403) 210-0142", website="https://clinic.test")
    return replace(shipped, clinic=clinic, extra={**shipped.extra, "front_desk": FILLED})


def test_hours_now_and_by_day_in_the_clinic_time_zone(shipped: Settings) -> None:
    open_now = clinic_reply("clinic_hours", "are you open now?", shipped, THURSDAY_10AM)
    assert "open right now, until 5 pm" in open_now.text
    evening = clinic_reply("clinic_hours", "when are you open", shipped, THURSDAY_6PM)
    assert "closed right now; we open again tomorrow at 9 am" in evening.text
    weekend = clinic_reply("clinic_hours", "are you open on Saturday?", shipped, THURSDAY_10AM)
    assert "closed on Saturday" in weekend.text
    saturday = clinic_reply("clinic_hours", "are you open today?", shipped, SATURDAY_NOON)
    assert "we open again on Monday at 9 am" in saturday.text
    assert "Monday to Friday 9 am to 5 pm; closed Saturday and Sunday" in saturday.text


def test_saturday_hours_when_the_clinic_sets_them(filled: Settings) -> None:
    reply = clinic_reply("clinic_hours", "open saturdays?", filled, THURSDAY_10AM)
    assert "On Saturday we're open 10 am to 1 pm" in reply.text
    assert "Monday to Friday 9 am to 5 pm; Saturday 10 am to 1 pm; closed Sunday" in reply.text


def test_every_answer_cites_the_clinic_page(filled: Settings) -> None:
    for topic, url in (("clinic_hours", "https://clinic.test/hours"),
                       ("clinic_location", "https://clinic.test/visit"),
                       ("clinic_fees", "https://clinic.test/fees"),
                       ("first_visit", "https://clinic.test/first")):
        reply = clinic_reply(topic, "?", filled, THURSDAY_10AM)
        assert reply.topic == topic and not reply.details
        assert list(reply.citations) == [
            {"kind": "clinic", "title": "Healthflow Naturopathic", "url": url}]
        assert reply.text.endswith(f"Source: Healthflow Naturopathic, {url}")


def test_filled_details_are_answered_and_missing_ones_get_the_phone(filled: Settings) -> None:
    where = clinic_reply("clinic_location", "what's your address?", filled).text
    assert "100 Test Street, Calgary AB" in where
    assert "Free parking" in clinic_reply("clinic_location", "is there parking?", filled).text
    assert "Video visits" in clinic_reply("clinic_location", "can I do it online?", filled).text
    price = clinic_reply("clinic_fees", "how much is a first visit", filled).text
    assert "$195 for 75 minutes" in price
    cover = clinic_reply("clinic_fees", "do you take insurance?", filled).text
    assert "please call us at (403) 210-0142" in cover.lower()
    assert "depends on your own plan" in cover  # no promise about coverage
    assert "About 75 minutes." in clinic_reply("first_visit", "how long is it?", filled).text
    bring = clinic_reply("first_visit", "what should I bring?", filled).text
    assert "call us at (403) 210-0142" in bring


def test_nothing_is_invented_when_nothing_is_filled_in(shipped: Settings) -> None:
    for topic in ("clinic_location", "clinic_fees", "first_visit"):
        text = clinic_reply(topic, "tell me", shipped).text
        assert "please call us at (403) 555-0142" in text.lower()
        assert "$" not in text


def test_a_person_gets_the_phone_when_open_and_the_hours_when_closed(shipped: Settings) -> None:
    open_now = clinic_reply("contact_human", "", shipped, THURSDAY_10AM)
    assert "call Healthflow Naturopathic at (403) 555-0142" in open_now.text
    assert "open right now, until 5 pm" in open_now.text
    closed = clinic_reply("contact_human", "", shipped, SATURDAY_NOON)
    assert "closed right now; we open again on Monday at 9 am" in closed.text
    assert "Monday to Friday 9 am to 5 pm" in closed.text
    for reply in (open_now, closed):
        assert [b["payload"] for b in reply.buttons] == ["/request_callback"]


@pytest.mark.parametrize("weekly", [{"monday": "9-5"}, {"monday": "17:00-09:00"},
                                    {"monday": "25:00-26:00"}])
def test_unreadable_hours_are_a_clear_error(weekly: Dict[str, str]) -> None:
    with pytest.raises(HoursError, match="monday"):
        OpeningHours.from_settings({"weekly": weekly}, "America/Edmonton")


def test_unreadable_hours_fall_back_to_the_hours_text(shipped: Settings) -> None:
    broken = replace(shipped, extra={**shipped.extra, "front_desk": {"hours": {"weekly": {
        "monday": "nine to five"}}}})
    reply = clinic_reply("clinic_hours", "hours?", broken, THURSDAY_10AM)
    assert "We're open Monday to Friday, 9 am to 5 pm (Mountain Time)." in reply.text


def test_placeholders_are_found_and_real_values_are_not(shipped: Settings, filled: Settings) -> None:
    problems = placeholder_problems(shipped)
    assert any("clinic.phone" in p and "555" in p for p in problems)
    assert any("clinic.booking_url" in p and ".example" in p for p in problems)
    real = replace(filled, clinic={k: (v.replace("healthflownaturopathic.example", "clinic.test")
                                       if isinstance(v, str) else v)
                                   for k, v in filled.clinic.items()},
                   article=dict(filled.article, url="https://clinic.test/blog"))
    assert placeholder_problems(real) == []
    assert "front_desk.fees.insurance" in unfilled_details(filled)
