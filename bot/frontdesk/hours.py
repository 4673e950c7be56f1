"""Opening hours in the clinic's own time zone: open now, today, on a given day.

The weekly table is ``front_desk.hours.weekly`` in config/clinic.yml: one ``"HH:MM-HH:MM"``
(or several, comma-separated) per day, ``null`` for closed; ``closed_dates`` lists days the
clinic is shut although the table says open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Dict, List, Mapping, Optional, Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
DEFAULT_ZONE = "America/Edmonton"

Span = Tuple[time, time]


class HoursError(ValueError):
    """The weekly hours in config/clinic.yml cannot be read."""


def _parse_spans(day: str, value: Any) -> List[Span]:
    if value in (None, "", False):
        return []
    spans: List[Span] = []
    for part in str(value).split(","):
        match = _SPAN.match(part)
        if not match:
            raise HoursError(f"front_desk.hours.weekly.{day}: {part.strip()!r} is not HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if not (0 <= h1 <= 23 and 0 <= h2 <= 24 and m1 < 60 and m2 < 60):
            raise HoursError(f"front_desk.hours.weekly.{day}: {part.strip()!r} is not a time")
        start = time(h1, m1)
        end = time(23, 59, 59) if h2 == 24 else time(h2, m2)
        if end <= start:
            raise HoursError(f"front_desk.hours.weekly.{day}: {part.strip()!r} ends before it starts")
        spans.append((start, end))
    return sorted(spans)


def clock(moment: time) -> str:
    """9:00 -> '9 am', 17:30 -> '5:30 pm', 12:00 -> 'noon'."""
    if moment.hour == 12 and moment.minute == 0:
        return "noon"
    hour = moment.hour % 12 or 12
    suffix = "am" if moment.hour < 12 else "pm"
    return f"{hour} {suffix}" if moment.minute == 0 else f"{hour}:{moment.minute:02d} {suffix}"


def spans_text(spans: List[Span]) -> str:
    return " and ".join(f"{clock(a)} to {clock(b)}" for a, b in spans)


@dataclass(frozen=True)
class OpeningHours:
    weekly: Dict[str, List[Span]]
    zone: ZoneInfo
    closed_dates: Tuple[date, ...] = ()

    @classmethod
    def from_settings(cls, hours: Mapping[str, Any], zone_name: Optional[str]) -> OpeningHours:
        weekly_raw = hours.get("weekly") or {}
        if not isinstance(weekly_raw, Mapping):
            raise HoursError("front_desk.hours.weekly must map each day to its hours")
        weekly = {day: _parse_spans(day, weekly_raw.get(day)) for day in DAYS}
        try:
            zone = ZoneInfo(str(zone_name or DEFAULT_ZONE))
        except (ZoneInfoNotFoundError, ValueError):
            raise HoursError(f"clinic.timezone {zone_name!r} is not a known time zone") from None
        closed: List[date] = []
        for item in hours.get("closed_dates") or []:
            try:
                closed.append(item if isinstance(item, date) else date.fromisoformat(str(item)))
            except ValueError:
                raise HoursError(f"front_desk.hours.closed_dates: {item!r} is not YYYY-MM-DD") from None
        return cls(weekly, zone, tuple(closed))

    @property
    def known(self) -> bool:
        """Whether any opening hours are filled in at all."""
        return any(self.weekly.values())

    def local(self, now: Optional[datetime] = None) -> datetime:
        moment = now or datetime.now(timezone.utc)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.astimezone(self.zone)

    def spans_on(self, day: date) -> List[Span]:
        if day in self.closed_dates:
            return []
        return self.weekly[DAYS[day.weekday()]]

    def is_open(self, now: Optional[datetime] = None) -> bool:
        local = self.local(now)
        return any(a <= local.time() < b for a, b in self.spans_on(local.date()))

    def next_opening(self, now: Optional[datetime] = None) -> Optional[datetime]:
        """When the clinic next opens (None if it never does)."""
        local = self.local(now)
        for offset in range(0, 15):
            day = local.date() + timedelta(days=offset)
            for start, _end in self.spans_on(day):
                opening = datetime.combine(day, start, tzinfo=self.zone)
                if opening > local:
                    return opening
        return None

    def weekly_text(self) -> str:
        """'Monday to Friday 9 am to 5 pm; closed Saturday and Sunday'."""
        groups: List[Tuple[List[str], List[Span]]] = []
        for day in DAYS:
            spans = self.weekly[day]
            if groups and groups[-1][1] == spans:
                groups[-1][0].append(day)
            else:
                groups.append(([day], spans))
        open_parts, closed_days = [], []
        for days, spans in groups:
            label = _day_range(days)
            if spans:
                open_parts.append(f"{label} {spans_text(spans)}")
            else:
                closed_days.extend(days)
        text = "; ".join(open_parts)
        if closed_days:
            text += "; closed " + _day_list(closed_days)
        return text


def _title(day: str) -> str:
    return day.capitalize()


def _day_range(days: List[str]) -> str:
    if len(days) == 1:
        return _title(days[0])
    if len(days) == 2:
        return f"{_title(days[0])} and {_title(days[1])}"
    return f"{_title(days[0])} to {_title(days[-1])}"


def _day_list(days: List[str]) -> str:
    names = [_title(d) for d in days]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def day_named(text: str) -> Optional[str]:
    """The weekday a question names ("are you open on Saturday?"), if any."""
    lowered = text.lower()
    for day in DAYS:
        if re.search(rf"\b{day[:3]}(?:{day[3:]})?s?\b", lowered):
            return day
    if re.search(r"\bweekends?\b", lowered):
        return "saturday"
    return None


def asks_today(text: str) -> bool:
    return bool(re.search(r"\b(today|tonight|right now|now|this (?:morning|afternoon|evening))\b",
                          text.lower()))


def asks_tomorrow(text: str) -> bool:
    return bool(re.search(r"\btomorrow\b", text.lower()))
