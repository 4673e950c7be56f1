"""``make eval``: held-out NLU figures, safety figures and latency under open load."""
