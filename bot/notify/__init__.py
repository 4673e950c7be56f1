"""Telling the clinic about every stored request: an outbox table and a worker.

``bot.booking.store.save_booking`` writes the outbox rows in the same transaction as the
request (:func:`bot.notify.outbox.enqueue`); ``python -m bot notify worker`` sends them
afterwards, off the request path: email over SMTP with STARTTLS, an optional HMAC-signed
webhook, and a receipt to the person when they gave an email address. Failures are retried
with back-off; a row is marked sent only after the send succeeded, and a row being sent is
leased, so a restart loses nothing and two workers never send the same row.
"""
