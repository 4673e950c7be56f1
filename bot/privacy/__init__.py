"""Privacy of what people tell the assistant (Alberta's PIPA, Canada's PIPEDA).

- ``masking``: once a booking form is over, the details typed into it are masked in the
  stored conversation (they live in the bookings table only).
- ``erase``: "delete my data", from the chat or by staff on the command line.
- ``retention``: old conversations and closed booking requests are deleted.
- ``audit``: a record that an erasure or a retention run happened, never what was said.
- ``commands``: ``python -m bot privacy retention|erase|audit``.

Nothing here knows about Rasa's classes; the tracker store
(``bot/runtime/tracker_store.py``) and ``actions/privacy.py`` use these functions.
"""

# The reply contract's topic id for "delete my data" (a routing topic, see README).
TOPIC = "delete_my_data"
INTENT = "delete_my_data"
# Set by action_delete_my_data once the erasure is done: the tracker store then stores
# nothing more of this conversation.
ERASED_SLOT = "privacy_erased"
# What replaces a masked detail in a stored conversation.
MASK = "[removed]"

# Values of the reply contract's ``step`` for the delete_my_data topic (the question's
# ``confirm`` is in its response in domain.yml).
STEP_ERASED = "erased"
STEP_KEPT = "kept"
STEP_ERROR = "error"

DEFAULT_RETENTION_DAYS = 90
