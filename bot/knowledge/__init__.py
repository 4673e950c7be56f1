"""The knowledge base: staff-editable topics (YAML) stored in SQL, answers built from it."""
