"""Booking requests: validating what people type, storing requests, the staff commands.

Nothing here knows about Rasa; ``actions/booking.py`` is the thin layer over it.
"""

# Slot names of the booking form, in the order the form asks for them.
NAME = "booking_name"
CONTACT = "booking_contact"
TIMES = "booking_times"
REASON = "booking_reason"
CONSENT = "booking_consent"
CONFIRMED = "booking_confirmed"
FORM_SLOTS = (NAME, CONTACT, TIMES, REASON, CONSENT, CONFIRMED)

# Slots the validation action fills alongside the asked ones.
CONTACT_KIND = "booking_contact_kind"
TIMES_NORMALISED = "booking_times_normalised"
FIX_PENDING = "booking_fix_pending"
REFERENCE = "booking_reference"

# Every slot that holds something the person told us (cleared after submit or cancel).
# Narrower sets: bot.privacy.masking.MASKED_SLOTS (nulled in a stored conversation) and
# bot.staff.inbox.IDENTITY_SLOTS (values masked before staff read a conversation).
PERSONAL_SLOTS = FORM_SLOTS + (CONTACT_KIND, TIMES_NORMALISED, FIX_PENDING)

FORM = "booking_form"
TOPIC = "booking"

# Values of the reply contract's ``step`` besides the slot being asked (the read-back's
# ``confirm`` and ``fix`` are in its responses in domain.yml).
STEP_SUBMITTED = "submitted"
STEP_CANCELLED = "cancelled"
STEP_ERROR = "error"
