"""``SemanticIntentClassifier``: intents by meaning, from the sentence encoder's vectors.

Placed after ``SentenceEncoderFeaturizer`` and before ``CrisisGuard``. At training it fits
:mod:`bot.nlp.intent_model` on the training examples' vectors. For each message it decides, in
this order (bot/nlp/understanding.py holds the rules and docs/understanding.md the figures):

1. **Reading.** A message of several sentences is also read sentence by sentence: the question
   sentence decides the topic together with the whole, and every sentence is checked for risk.
2. **Follow-ups.** With the conversation tracker (Rasa's default recipe passes it at prediction
   time), a short follow-up ("which strains?", "tell me more") is read with the previous
   question, and a generic one is answered with the last topic.
3. **Crisis signal.** How much nearer the text, its sentences or its clauses are to the crisis
   examples than to all the others (the margin) makes a ``clear`` or ``weak`` signal. Clear
   gives ``crisis``;
   weak keeps the intent and asks the actions for one safety line. While a booking form asks
   for a name, contact or times, only the crisis patterns count (CrisisGuard): "Hope Rivers"
   is a name.
4. **Scope.** The best intent must be close in meaning to that intent's own examples, else
   ``out_of_scope``; two close topics give ``nlu_fallback`` with both in the ranking, which
   ``action_clarify`` turns into a question with buttons.

The parse result carries ``understanding: {read_as, similarity, follow_up_of}`` and
``crisis_signal: {level, margin, clause_margin}``.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlp import encoder, understanding
from bot.nlp.intent_model import IntentModel, train_intent_model
from bot.rasa_components.sentence_encoder import ALIAS as ENCODER_ALIAS

logger = logging.getLogger(__name__)


def _one_blas_thread() -> None:
    """Serve with one BLAS thread, process-wide. A message's products are tiny (1 x 384 by
    384 x 3,400): OpenBLAS waking its thread pool for each took 1.5-2 ms and burnt CPU
    spinning, 7 products a message; with one thread each takes 0.003-0.3 ms (measured
    2026-12-03 on the 2-core machine). Training keeps its threads."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def _vector(message: Message) -> np.ndarray | None:
    _, sentence = message.get_dense_features(TEXT, [ENCODER_ALIAS])
    if sentence is None:
        return None
    return np.asarray(sentence.features, dtype=np.float32).reshape(-1)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class SemanticIntentClassifier(GraphComponent, IntentClassifier):
    """Intent, scope, follow-ups and the crisis signal from sentence vectors."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return understanding.Settings().as_config()

    @staticmethod
    def required_packages() -> list[str]:
        return ["sklearn", "onnxruntime"]

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: IntentModel | None = None,
    ) -> None:
        self._settings = understanding.Settings.from_config(config)
        self._model_storage = model_storage
        self._resource = resource
        self._reader: understanding.Reader | None = (
            understanding.Reader(model, encoder.shared_encoder(), self._settings) if model else None
        )

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SemanticIntentClassifier:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        vectors, labels = [], []
        for example in training_data.intent_examples:
            vector = _vector(example)
            if vector is not None and example.get(INTENT):
                vectors.append(vector)
                labels.append(str(example.get(INTENT)))
        if not vectors:
            raise ValueError("SemanticIntentClassifier: no training examples with vectors")
        model = train_intent_model(np.vstack(vectors), labels, self._settings.regularisation)
        with self._model_storage.write_to(self._resource) as directory:
            model.save(directory)
        self._reader = understanding.Reader(model, encoder.shared_encoder(), self._settings)
        logger.info("intent model trained on %d examples, %d intents", len(labels), len(model.labels))
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> SemanticIntentClassifier:
        with model_storage.read_from(resource) as directory:
            model = IntentModel.load(directory)
        _one_blas_thread()
        return cls(config, model_storage, resource, model)

    def process(self, messages: list[Message], tracker: Any = None, **kwargs: Any) -> list[Message]:
        """Classify each message (``tracker``: the conversation so far, when Rasa serves)."""
        if self._reader is None:
            return messages
        context = understanding.Context.from_tracker(tracker)
        for message in messages:
            text = message.get(TEXT)
            vector = _vector(message)
            if not isinstance(text, str) or vector is None:
                continue
            result = self._reader.read(text, vector, context)
            for key, value in result.as_parse().items():
                message.set(key, value, add_to_output=True)
        return messages
