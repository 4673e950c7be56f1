"""Custom Rasa graph components (the crisis guard, the payload guard)."""
