"""Custom actions: thin rasa-sdk classes over the ``bot`` package."""
