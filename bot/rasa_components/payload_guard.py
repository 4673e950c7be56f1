"""Keep typed ``/intent{...}`` payloads from skipping the NLU safeguards.

Rasa treats any message that starts with ``/`` as a ready-made intent (with entities and
a confidence if given), bypassing the classifier and the crisis safety net. Buttons need
plain ``/topic`` payloads, so those stay; anything else that starts with ``/`` (entities,
a confidence, Rasa's built-in ``/restart`` or ``/session_start``) has its slashes removed
and is understood like any other text. This component must come first in the pipeline.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

PLAIN_PAYLOAD = re.compile(r"^/([a-z][a-z0-9_]{0,63})$")
DEFAULT_BLOCKED = ["restart", "session_start", "back", "nlu_fallback", "crisis"]


def sanitise(text: str, blocked: List[str]) -> str:
    """The text Rasa should see: plain allowed payloads unchanged, other ``/`` text unwrapped."""
    stripped = text.strip()
    if not stripped.startswith("/"):
        return text
    match = PLAIN_PAYLOAD.match(stripped)
    if match and match.group(1) not in blocked:
        return stripped
    return stripped.lstrip("/").strip()


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False
)
class PayloadGuard(GraphComponent):
    """Unwrap typed payloads that would bypass the classifier."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"blocked_intents": DEFAULT_BLOCKED}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self._blocked = list(config.get("blocked_intents") or [])

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "PayloadGuard":
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if isinstance(text, str) and text.lstrip().startswith("/"):
                cleaned = sanitise(text, self._blocked)
                if cleaned != text:
                    logger.info("unwrapped a typed payload that was not a plain button payload")
                    message.set(TEXT, cleaned)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    @classmethod
    def validate_config(cls, config: Optional[Dict[Text, Any]] = None) -> None:
        return None
