"""The clinic's own spaCy pipeline and its crisis safety-net component.

``bot.nlp.pipeline`` builds and saves the pipeline; ``bot.nlp.crisis_matcher`` registers the
``crisis_matcher`` factory, which must be imported before ``spacy.load`` of a saved pipeline.
"""
