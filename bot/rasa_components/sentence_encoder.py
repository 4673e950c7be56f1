"""``SentenceEncoderFeaturizer``: dense sentence features from the pretrained sentence encoder.

Each message's text gets one 384-wide ``sentence`` feature, the unit vector of
all-MiniLM-L6-v2 (bot/nlp/encoder.py: hash-checked weights, run with onnxruntime). Training
examples' vectors are cached on disk (bot/nlp/vector_cache.py), so a retrain after staff add a
few examples encodes only those. Typed ``/intent`` button payloads get no features (Rasa
treats them as intents; PayloadGuard keeps them plain).

The model's files are verified when the component is created, so training and the server both
refuse to start, with a message that says how to fix it, on a missing or altered model.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlp import encoder, vector_cache

logger = logging.getLogger(__name__)

ALIAS = "sentence_encoder"


def _text(message: Message) -> str | None:
    text = message.get(TEXT)
    if not isinstance(text, str) or not text.strip() or text.lstrip().startswith("/"):
        return None
    return text


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False
)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    """Add the encoder's unit vector as each message's dense sentence feature."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**DenseFeaturizer.get_default_config(), "alias": ALIAS,
                "model_id": encoder.MODEL_ID, "cache_dir": str(vector_cache.DEFAULT_DIR)}

    @staticmethod
    def required_packages() -> list[str]:
        return ["onnxruntime", "onnx", "safetensors"]

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        self._cache_dir = Path(config.get("cache_dir") or vector_cache.DEFAULT_DIR)
        self._encoder = encoder.shared_encoder()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEncoderFeaturizer:
        return cls(config, execution_context.node_name)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        return None

    def _add(self, messages: list[Message], vectors: np.ndarray) -> None:
        for message, vector in zip(messages, vectors):
            self.add_features_to_message(None, vector[None, :], TEXT, message)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Vectors for every training example with text (cached on disk)."""
        messages = [m for m in training_data.training_examples if _text(m)]
        texts = [str(_text(m)) for m in messages]
        vectors = vector_cache.cached_vectors(
            texts, self._encoder.encode, encoder.MODEL_ID, self._cache_dir
        )
        self._add(messages, vectors)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Vectors for the messages of one parse."""
        with_text = [m for m in messages if _text(m)]
        if with_text:
            self._add(with_text, self._encoder.encode([str(_text(m)) for m in with_text]))
        return messages
