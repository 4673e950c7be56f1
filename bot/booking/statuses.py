"""A booking request's statuses: the open ones, and the closed ones the retention job deletes.

Closed statuses come from ``config/clinic.yml`` → ``privacy.closed_booking_statuses``.
"""

from __future__ import annotations

from typing import Mapping, Tuple

from bot.booking.store import STATUS_NEW
from bot.settings import get_settings

# A request is "new" until the front desk has dealt with it; "contacted" while it is under way.
OPEN_STATUSES = (STATUS_NEW, "contacted")
DEFAULT_CLOSED_STATUSES = ("booked", "closed", "cancelled", "declined")


def closed_statuses() -> Tuple[str, ...]:
    section = get_settings().extra.get("privacy") or {}
    configured = section.get("closed_booking_statuses") if isinstance(section, Mapping) else None
    return tuple(str(s) for s in configured) if configured else DEFAULT_CLOSED_STATUSES


def booking_statuses() -> Tuple[str, ...]:
    """Open statuses, then the closed ones the retention job deletes (config/clinic.yml)."""
    return OPEN_STATUSES + tuple(s for s in closed_statuses() if s not in OPEN_STATUSES)
