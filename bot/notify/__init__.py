"""Telling the clinic about every stored request: the worker that empties the outbox.

``bot.booking.store.save_booking`` writes the outbox rows in the same transaction as the
request (:func:`bot.booking.outbox.enqueue`); ``python -m bot notify worker`` sends them
afterwards, off the request path: email over SMTP with STARTTLS, an optional HMAC-signed
webhook, and a receipt to the person when they gave an email address. Failures are retried
with back-off; a row is marked sent only after the send succeeded, and a row being sent is
leased, so a restart loses nothing and two workers never send the same row.
"""
