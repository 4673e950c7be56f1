"""Answers to practical questions, built only from config/clinic.yml (``front_desk``).

Each reply follows the reply contract (3b): the text, then ``custom`` with the topic and a
``{"kind": "clinic", "title": <clinic name>, "url": <the clinic's page>}`` citation. A detail
the clinic has not filled in is answered with "please call us at <phone>", never guessed.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Dict, List, Mapping, Optional, Sequence

from bot.frontdesk.hours import DAYS, HoursError, OpeningHours, asks_today, asks_tomorrow, \
    clock, day_named, spans_text
from bot.messages import message
from bot.reply import Reply
from bot.settings import Settings, get_settings

CLINIC_HOURS = "clinic_hours"
CLINIC_LOCATION = "clinic_location"
CLINIC_FEES = "clinic_fees"
FIRST_VISIT = "first_visit"
CONTACT_HUMAN = "contact_human"
CLINIC_TOPICS = (CLINIC_HOURS, CLINIC_LOCATION, CLINIC_FEES, FIRST_VISIT, CONTACT_HUMAN)
CALLBACK_PAYLOAD = "/request_callback"
SECTION = {CLINIC_HOURS: "hours", CLINIC_LOCATION: "location", CLINIC_FEES: "fees",
           FIRST_VISIT: "first_visit", CONTACT_HUMAN: "contact"}

# Which details a question asks for, by its words; no match gives the section's main ones.
_LOCATION_WORDS = (
    ("parking", r"\bpark(ing)?\b|\bcar\b"),
    ("online_visits", r"\bonline\b|\bvirtual(ly)?\b|\bvideo\b|\bzoom\b|\btele|\bremote(ly)?\b|"
                      r"\bfrom home\b"),
    ("directions", r"\bdirections?\b|\bget (there|to you)\b|\bbus\b|\btransit\b|\btrain\b|"
                   r"\bfind (you|the clinic)\b|\bwhich floor\b|\bentrance\b"),
)
_FEES_WORDS = (
    ("direct_billing", r"\bdirect(ly)?[ -]?bill|\bbill (my|the) (insurance|insurer|plan)\b"),
    ("insurance", r"\binsur|\bcover(ed|age)?\b|\bbenefits?\b|\bplan\b|\bclaim|\breceipt|"
                  r"\bhsa\b|\bblue cross\b|\bsun life\b|\bmanulife\b"),
    ("payment", r"\bpay(ment)?\b|\bcredit card\b|\bdebit\b|\bcash\b|\be-?transfer\b"),
    ("follow_up", r"\bfollow[ -]?ups?\b|\breturn visit|\bsecond visit|\bnext visits?\b"),
)
_FIRST_VISIT_WORDS = (
    ("duration", r"\bhow long\b|\bduration\b|\bminutes\b|\bhours?\b long\b|\btakes?\b"),
    ("what_to_bring", r"\bbring\b|\bprepare\b|\bprep\b|\bready\b|\bfill (in|out)\b|\bforms?\b|"
                      r"\blab|\bblood ?work\b|\btests? results?\b"),
)
DEFAULT_DETAILS = {
    "location": ("address", "directions"),
    "fees": ("initial_visit", "follow_up", "insurance", "direct_billing"),
    "first_visit": ("what_happens", "duration", "what_to_bring"),
}


def front_desk(settings: Settings) -> Mapping[str, Any]:
    value = settings.extra.get("front_desk") or {}
    return value if isinstance(value, Mapping) else {}


def section(settings: Settings, name: str) -> Mapping[str, Any]:
    value = front_desk(settings).get(name) or {}
    return value if isinstance(value, Mapping) else {}


def page_url(settings: Settings, name: str) -> str:
    url = str(section(settings, name).get("url") or "").strip()
    return url or str(settings.clinic.get("website") or settings.clinic.get("booking_url") or "")


def clinic_citation(settings: Settings, name: str) -> Dict[str, str]:
    return {"kind": "clinic", "title": settings.clinic_name, "url": page_url(settings, name)}


def opening_hours(settings: Settings) -> Optional[OpeningHours]:
    """The weekly table, or None when it is missing or cannot be read."""
    hours = section(settings, "hours")
    if not hours.get("weekly"):
        return None
    try:
        table = OpeningHours.from_settings(hours, settings.clinic.get("timezone"))
    except HoursError:
        return None
    return table if table.known else None


def _zone_label(settings: Settings, table: OpeningHours, now: Optional[datetime]) -> str:
    label = str(section(settings, "hours").get("zone_label") or "").strip()
    return label or (table.local(now).tzname() or "")


def when_text(table: OpeningHours, now: Optional[datetime]) -> Optional[str]:
    """'today at 9 am', 'tomorrow at 9 am', 'on Monday at 9 am'."""
    opening = table.next_opening(now)
    if opening is None:
        return None
    today = table.local(now).date()
    days = (opening.date() - today).days
    at = clock(opening.time())
    if days == 0:
        return f"today at {at}"
    if days == 1:
        return f"tomorrow at {at}"
    return f"on {DAYS[opening.weekday()].capitalize()} at {at}"


def open_until(table: OpeningHours, now: Optional[datetime]) -> Optional[str]:
    local = table.local(now)
    for start, end in table.spans_on(local.date()):
        if start <= local.time() < end:
            return clock(end)
    return None


def _missing(settings: Settings, what: str) -> str:
    return message("clinic.missing", settings, what=message(f"clinic.missing_what.{what}", settings))


def _reply(settings: Settings, topic: str, lines: Sequence[str],
           buttons: Optional[List[Dict[str, str]]] = None) -> Reply:
    """One paragraph of the facts asked for, with the clinic's page as the source."""
    name = SECTION[topic]
    return Reply.of(
        topic, " ".join(line for line in lines if line),
        source=message("clinic.source_line", settings, url=page_url(settings, name)),
        citations=[clinic_citation(settings, name)],
        buttons=buttons or [],
    )


def _details_asked(text: str, words: Sequence[tuple]) -> List[str]:
    lowered = text.lower()
    return [key for key, pattern in words if re.search(pattern, lowered)]


def _detail_lines(settings: Settings, name: str, keys: Sequence[str]) -> List[str]:
    """One line per detail; the first missing one gets the phone number (once)."""
    values = section(settings, name)
    lines: List[str] = []
    missing: List[str] = []
    for key in keys:
        detail = " ".join(str(values.get(key) or "").split())
        if detail:
            lines.append(message(f"clinic.{name}.{key}", settings, detail=detail))
        else:
            missing.append(key)
    if missing and (not lines or len(keys) == 1 or missing[0] == keys[0]):
        lines.append(_missing(settings, missing[0]))
    return lines


def _callback_button() -> Dict[str, str]:
    return {"title": message("clinic.buttons.callback"), "payload": CALLBACK_PAYLOAD}


def hours_reply(settings: Settings, text: str, now: Optional[datetime]) -> Reply:
    table = opening_hours(settings)
    if table is None:
        legacy = str(settings.clinic.get("hours") or "").strip()
        said = [message("clinic.hours.legacy", settings, hours=legacy) if legacy
                else _missing(settings, "hours")]
        return _reply(settings, CLINIC_HOURS, said, [_callback_button()])
    local = table.local(now)
    lines: List[str] = []
    day = day_named(text)
    if day and day != DAYS[local.weekday()]:
        spans = table.weekly[day]
        key = "day_open" if spans else "day_closed"
        lines.append(message(f"clinic.hours.{key}", settings, day=day.capitalize(),
                             spans=spans_text(spans)))
    elif asks_tomorrow(text):
        tomorrow = local.date().fromordinal(local.date().toordinal() + 1)
        spans = table.spans_on(tomorrow)
        key = "tomorrow_open" if spans else "tomorrow_closed"
        lines.append(message(f"clinic.hours.{key}", settings,
                             day=DAYS[tomorrow.weekday()].capitalize(), spans=spans_text(spans)))
    else:
        until = open_until(table, now)
        if until:
            lines.append(message("clinic.hours.open_now", settings, until=until))
        else:
            when = when_text(table, now)
            lines.append(message("clinic.hours.closed_now", settings, when=when) if when
                         else message("clinic.hours.closed_now_never", settings))
        spans = table.spans_on(local.date())
        if until and (day or asks_today(text)) and spans:
            lines.append(message("clinic.hours.today_open", settings, spans=spans_text(spans)))
    lines.append(message("clinic.hours.weekly", settings, zone=_zone_label(settings, table, now),
                         weekly=table.weekly_text()))
    note = " ".join(str(section(settings, "hours").get("note") or "").split())
    if note:
        lines.append(note)
    return _reply(settings, CLINIC_HOURS, lines,
                  [{"title": message("clinic.buttons.book"), "payload": "/book_appointment"}])


def _section_reply(settings: Settings, topic: str, text: str, words: Sequence[tuple]) -> Reply:
    name = SECTION[topic]
    keys = _details_asked(text, words) or list(DEFAULT_DETAILS[name])
    lines = _detail_lines(settings, name, keys)
    if topic == CLINIC_FEES and any(k in keys for k in ("insurance", "direct_billing")):
        lines.append(message("clinic.fees.coverage", settings))
    return _reply(settings, topic, lines,
                  [{"title": message("clinic.buttons.book"), "payload": "/book_appointment"},
                   _callback_button()])


def contact_reply(settings: Settings, now: Optional[datetime]) -> Reply:
    table = opening_hours(settings)
    if table is None:
        lines = [message("clinic.contact.unknown_hours", settings)]
    else:
        until = open_until(table, now)
        if until:
            lines = [message("clinic.contact.open", settings, until=until)]
        else:
            lines = [message("clinic.contact.closed", settings,
                             when=when_text(table, now) or "during opening hours",
                             zone=_zone_label(settings, table, now), weekly=table.weekly_text())]
    email = str(settings.clinic.get("email") or "").strip()
    if email:
        lines.append(message("clinic.contact.email", settings, email=email))
    return _reply(settings, CONTACT_HUMAN, lines, [_callback_button()])


def clinic_reply(topic: str, text: str = "", settings: Optional[Settings] = None,
                 now: Optional[datetime] = None) -> Reply:
    """The reply to a practical question of ``topic`` (one of CLINIC_TOPICS)."""
    settings = settings or get_settings()
    if topic == CLINIC_HOURS:
        return hours_reply(settings, text, now)
    if topic == CLINIC_LOCATION:
        return _section_reply(settings, topic, text, _LOCATION_WORDS)
    if topic == CLINIC_FEES:
        return _section_reply(settings, topic, text, _FEES_WORDS)
    if topic == FIRST_VISIT:
        return _section_reply(settings, topic, text, _FIRST_VISIT_WORDS)
    if topic == CONTACT_HUMAN:
        return contact_reply(settings, now)
    raise ValueError(f"{topic!r} is not a clinic topic")


def placeholder_problems(settings: Optional[Settings] = None) -> List[str]:
    """Settings that still hold the shipped placeholders (.example links, 555 numbers)."""
    settings = settings or get_settings()
    problems: List[str] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                walk(f"{prefix}[{index}]", item)
        elif isinstance(value, str):
            if re.search(r"https?://[^\s/]*\.example(?:[/:\s]|$)", value):
                problems.append(f"{prefix}: {value} is a placeholder link (.example)")
            elif re.search(r"\b555[-. ]?01\d\d\b", value) or re.search(r"\(\d{3}\)\s*555", value):
                problems.append(f"{prefix}: {value} is a placeholder phone number (555)")

    walk("clinic", dict(settings.clinic))
    walk("article", dict(settings.article))
    walk("front_desk", dict(front_desk(settings)))
    return problems


def unfilled_details(settings: Optional[Settings] = None) -> List[str]:
    """front_desk details left empty (answered with the phone number)."""
    settings = settings or get_settings()
    empty: List[str] = []
    for name, keys in DEFAULT_DETAILS.items():
        values = section(settings, name)
        empty += [f"front_desk.{name}.{key}" for key in keys if not str(values.get(key) or "").strip()]
    if opening_hours(settings) is None:
        empty.append("front_desk.hours.weekly")
    return empty
