"""Names of intents and topics that code refers to (one place, no stray literals)."""

from __future__ import annotations

FALLBACK_INTENT = "nlu_fallback"
CRISIS = "crisis"
OUT_OF_SCOPE = "out_of_scope"
PERSONAL_ADVICE = "personal_advice"
BOOK_APPOINTMENT = "book_appointment"
BOOKING_TOPIC = "booking"
HELP = "help"

# Small-talk intents: the topic id is the intent name, the reply is ``utter_<intent>``.
SMALL_TALK = ("greet", "goodbye", "thanks", "help", "bot_challenge")
