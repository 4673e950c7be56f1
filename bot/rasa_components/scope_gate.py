"""``ScopeGate``: no answer about a topic for a message that says nothing about it.

Placed after FallbackClassifier and before CrisisGuard. At training it learns each intent's
evidence words from the training examples (bot/nlp/scope_lexicon.py). For each message:

* the intent is a gated one (a topic, small talk, booking, personal advice) and the message
  contains none of that intent's evidence words: the intent becomes ``out_of_scope`` with
  confidence 1.0, so the visitor gets the honest "I can only help with…" reply instead of a
  confident answer to a question nobody asked;
* the only evidence is one *weak* word (an everyday word such as "stress" or "depression") and
  the classifier's confidence is below ``weak_evidence_confidence``: ``out_of_scope`` too
  ("how do I stress test my PC" is not about the HPA axis);
* the intent is ``nlu_fallback`` (the classifier was unsure) and the best intent of the ranking
  is gated and has no evidence either: ``out_of_scope`` too, so that a question about boiling
  eggs is not met with "did you mean diet or IBS?";
* otherwise the message is left alone; so is small talk made of stop words only ("what can
  you do", "who are you"): there is no word to judge it by.

Either way the parse result carries ``scope_gate: {intent, evidence, weak}``: the intent the
classifier chose, the evidence words found and whether they were weak, for staff reviewing
conversations. Typed ``/intent`` payloads (buttons) are left to Rasa. Intents in
``exempt_intents`` are never gated: crisis (CrisisGuard and the classifier decide it), and the
answers a form collects (a name, a yes, a cancel). CrisisGuard runs after this component and
can still make any message a crisis.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlp import scope_lexicon
from bot.nlp.scope_lexicon import ScopeLexicon, build_lexicon
from bot.rasa_components.ranking import best_guess, put_first

logger = logging.getLogger(__name__)

GATE_KEY = "scope_gate"
LEXICON_FILE = "scope_lexicon.json"


def _token_forms(message: Message) -> list[tuple[str, str]]:
    tokens = message.get(TOKENS_NAMES[TEXT]) or []
    return [(token.text, token.lemma or token.text) for token in tokens]


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class ScopeGate(GraphComponent, IntentClassifier):
    """Turn a prediction without lexical evidence into ``out_of_scope``."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """See bot/nlp/scope_lexicon.py for what the numbers mean."""
        return {
            "out_of_scope_intent": "out_of_scope",
            "exempt_intents": ["crisis", "inform", "affirm", "deny", "cancel"],
            "everyday_intents": ["greet", "goodbye", "thanks", "help", "bot_challenge"],
            "min_ratio": 2.0,
            "weak_word_logprob": -11.0,
            "weak_evidence_confidence": 0.8,
            # A booking request worded with one everyday word ("can I book for next week")
            # is worth taking: the cost of turning it away is a visitor who cannot book.
            "weak_evidence_accepted_for": ["book_appointment"],
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        lexicon: ScopeLexicon | None = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._out_of_scope = str(self._config["out_of_scope_intent"])
        self._weak_confidence = float(self._config["weak_evidence_confidence"])
        self._everyday = frozenset(self._config["everyday_intents"])
        self._weak_accepted = frozenset(self._config["weak_evidence_accepted_for"])
        self._model_storage = model_storage
        self._resource = resource
        self._lexicon = lexicon or ScopeLexicon({})

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """Retrain when the lexicon code changes (Rasa fingerprints only this class's source)."""
        return hashlib.sha256(inspect.getsource(scope_lexicon).encode()).hexdigest()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ScopeGate:
        """An untrained gate (gates nothing until trained)."""
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Learn the evidence words of every intent and save them with the model."""
        examples = [
            (str(example.get(INTENT)), _token_forms(example))
            for example in training_data.intent_examples
        ]
        intents = {intent for intent, _ in examples}
        self._lexicon = build_lexicon(
            examples,
            out_of_scope_intent=self._out_of_scope,
            exempt=self._config["exempt_intents"],
            topical=sorted(intents - self._everyday),
            min_ratio=float(self._config["min_ratio"]),
            weak_word_logprob=float(self._config["weak_word_logprob"]),
        )
        with self._model_storage.write_to(self._resource) as directory:
            (directory / LEXICON_FILE).write_text(
                json.dumps(self._lexicon.to_dict(), indent=1), encoding="utf-8"
            )
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> ScopeGate:
        """The gate with the evidence words saved at training."""
        try:
            with model_storage.read_from(resource) as directory:
                data = json.loads((directory / LEXICON_FILE).read_text(encoding="utf-8"))
        except (ValueError, OSError):
            logger.warning("scope gate: no saved lexicon in the model; nothing is gated")
            data = {}
        return cls(config, model_storage, resource, ScopeLexicon.from_dict(data))

    def process(self, messages: list[Message]) -> list[Message]:
        """Gate each message's intent (see the module docstring)."""
        for message in messages:
            text = message.get(TEXT)
            if not isinstance(text, str) or not text.strip() or text.lstrip().startswith("/"):
                continue
            intent, confidence = self._intent_to_check(message)
            if intent is None or not self._lexicon.gated(intent):
                continue
            tokens = _token_forms(message)
            evidence = self._lexicon.evidence_in(intent, tokens)
            weak = (bool(evidence) and intent not in self._weak_accepted
                    and self._lexicon.is_weak(intent, evidence))
            message.set(
                GATE_KEY, {"intent": intent, "evidence": evidence, "weak": weak}, add_to_output=True
            )
            if not evidence and intent in self._everyday and not self._lexicon.has_content(tokens):
                continue
            if not evidence or (weak and confidence < self._weak_confidence):
                self._reject(message)
                logger.debug("scope gate: no or weak evidence for %s, out of scope", intent)
        return messages

    @staticmethod
    def _intent_to_check(message: Message) -> tuple[str | None, float]:
        """The classifier's intent (the best real one under ``nlu_fallback``), its confidence."""
        intent = message.get(INTENT) or {}
        if not isinstance(intent, dict):
            return None, 0.0
        unsure = intent.get(INTENT_NAME_KEY) == DEFAULT_NLU_FALLBACK_INTENT_NAME
        entry = best_guess(message) if unsure else intent
        if entry is None:
            return None, 0.0
        return entry.get(INTENT_NAME_KEY), float(entry.get(PREDICTED_CONFIDENCE_KEY) or 0.0)

    def _reject(self, message: Message) -> None:
        put_first(message, self._out_of_scope)
