"""The front desk's facts: opening hours, location, fees, first visit (config/clinic.yml).

Nothing here knows about Rasa; ``actions/clinic.py`` is the thin layer over it. Answers are
built only from the clinic's settings; a detail left empty is answered with the phone number.
"""
