"""What each notification says, built from the stored request when it is sent.

By default the clinic's email and the webhook carry the reference, the kind of request,
the preferred times and a link to the staff page, and no health details (PIPA); with
``NOTIFY_FULL_DETAILS=1`` they add the name, contact and reason. The person's receipt names
the reference only. Headers are built with the SMTP policy, which refuses CR/LF in a header,
and recipients are passed explicitly, so typed text can never add a recipient.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Any, Dict

from bot.booking.store import KIND_CALLBACK, StoredBooking
from bot.booking.validation import display_contact
from bot.notify.config import NotifyConfig
from bot.settings import Settings


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def staff_link(config: NotifyConfig, reference: str) -> str:
    return f"{config.staff_url}/bookings/{reference}"


def _what(booking: StoredBooking) -> str:
    return "call-back request" if booking.kind == KIND_CALLBACK else "booking request"


def message_id(reference: str, channel: str, sender: str) -> str:
    """The same for every attempt of one notification, so mail systems can drop a repeat."""
    domain = sender.rpartition("@")[2] or "localhost"
    return f"<{reference}.{channel}@{domain}>"


def clinic_email(booking: StoredBooking, config: NotifyConfig, settings: Settings) -> EmailMessage:
    created = _utc(booking.created_at).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"New {_what(booking)} {booking.reference}, received {created}.",
        "",
        f"Preferred times: {' '.join(booking.times_text.split())}",
    ]
    if config.full_details:
        lines += [
            f"Name: {' '.join(booking.name.split())}",
            f"Contact: {display_contact(booking.contact, booking.contact_kind)}",
            f"Reason: {' '.join((booking.reason or '(none given)').split())}",
        ]
    else:
        lines += ["", "The name, contact details and reason are on the staff page only."]
    lines += ["", f"Open it on the staff page: {staff_link(config, booking.reference)}"]
    return _email(
        config, config.email_to,
        f"{settings.clinic_name}: new {_what(booking)} {booking.reference}",
        "\n".join(lines), message_id(booking.reference, "clinic", config.email_from),
    )


def receipt_email(booking: StoredBooking, config: NotifyConfig, settings: Settings) -> EmailMessage:
    lines = [
        f"Thank you for your {_what(booking)} to {settings.clinic_name}.",
        f"Your reference is {booking.reference}. The front desk will contact you to follow up.",
        "",
        f"Questions: call {settings.phone}. In an emergency call 911.",
        "",
        "You received this email because you asked for it in our chat.",
    ]
    return _email(
        config, booking.contact,
        f"{settings.clinic_name}: your reference {booking.reference}",
        "\n".join(lines), message_id(booking.reference, "receipt", config.email_from),
    )


def _email(config: NotifyConfig, to: str, subject: str, body: str, msg_id: str) -> EmailMessage:
    message = EmailMessage(policy=SMTP)
    message["From"] = config.email_from  # raises ValueError on CR/LF (header injection)
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = msg_id
    message["Date"] = format_datetime(datetime.now(timezone.utc))
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message


def webhook_body(booking: StoredBooking, config: NotifyConfig) -> bytes:
    payload: Dict[str, Any] = {
        "event": "request.created",
        "reference": booking.reference,
        "kind": booking.kind,
        "created_at": _utc(booking.created_at).isoformat(timespec="seconds"),
        "status": booking.status,
        "preferred_times": booking.times_text,
        "staff_url": staff_link(config, booking.reference),
    }
    if config.full_details:
        payload.update(name=booking.name, contact=booking.contact,
                       contact_kind=booking.contact_kind, reason=booking.reason)
    return json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
