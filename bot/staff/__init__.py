"""The clinic staff's improvement loop: inbox, label, approve, check, retrain, deploy, roll back.

One core (``inbox``, ``changes``, ``deploy``; roles enforced in ``users``) and two faces over
it: ``python -m bot staff ...`` (``commands``) and a small login-protected web page (``web``).
"""
