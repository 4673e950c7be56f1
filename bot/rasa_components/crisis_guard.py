"""``CrisisGuard``: the deterministic crisis safety net the classifier cannot out-vote.

Placed last in the NLU pipeline (after SemanticIntentClassifier). For each message it runs
the ``crisis_matcher`` spaCy component (bot/nlp/crisis_matcher.py) on the text:

* a crisis phrase matched: the intent becomes ``crisis`` with confidence 1.0, ``crisis`` is
  put first in ``intent_ranking`` and ``crisis_guard: {matched: true, reason: <kind>}`` is
  added to the parse result; unless the phrase is *doubted*: the meaning of every sentence and
  clause is far from the crisis examples (crisis margin below ``doubt_margin``) and the
  classifier is sure of a topic ("I'd be shooting myself in the foot if I dropped my meds for
  probiotics, can the two be combined?"). A doubted phrase gets the weak treatment below, so
  the person still sees the crisis lines once;
* only a non-crisis idiom matched ("this IBS is killing me") and the classifier said
  ``crisis``: the intent becomes the best other intent of the ranking (``nlu_fallback`` with
  confidence 0.0 if there is none), ``crisis`` leaves the ranking and
  ``crisis_guard: {matched: false, reason: null, overruled: true}`` is added;
* the classifier gave a ``weak`` crisis signal (bot/nlp/understanding.py) and no idiom
  explains it: the intent stays, and ``crisis_guard: {matched: false, weak: true}`` asks the
  actions for one safety line before their reply (the booking form carries on);
* otherwise the message is left alone (paraphrases and typos stay the classifier's job).

The matcher is the (disabled) ``crisis_matcher`` of the spaCy pipeline SpacyNLP has loaded:
the component is registered with ``model_from="SpacyNLP"``, so Rasa's graph hands it the same
``SpacyModel`` it gives SpacyTokenizer and SpacyEntityExtractor. The pipeline is in memory once
and the matcher runs once per message, here (SpacyNLP leaves it disabled). Only in a pipeline
without SpacyNLP is a pipeline loaded lazily from the ``model`` setting (the directory built by
``python -m bot.nlp.pipeline``); if that directory does not exist the guard builds the same
pipeline in memory rather than run without a safety net. Importing this module registers the
``crisis_matcher`` factory, which SpacyNLP's ``spacy.load`` needs.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.utils.spacy_utils import SpacyModel
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from spacy.language import Language

from bot.nlp.crisis_matcher import FACTORY_NAME, CrisisMatcher, CrisisResult
from bot.nlp.pipeline import DEFAULT_OUTPUT_DIR, build_pipeline, load_pipeline
from bot.rasa_components.ranking import put_first, ranking_without

logger = logging.getLogger(__name__)

GUARD_KEY = "crisis_guard"
SIGNAL_KEY = "crisis_signal"  # set by SemanticIntentClassifier
MODEL_KEY = "model"
CRISIS_INTENT_KEY = "crisis_intent"
DOUBT_MARGIN_KEY = "doubt_margin"
DOUBT_CONFIDENCE_KEY = "doubt_confidence"
# Intents a doubted phrase may stand beside: topics and conversation, never "unsure" or "out of scope".
UNSURE_INTENTS = frozenset({DEFAULT_NLU_FALLBACK_INTENT_NAME, "out_of_scope", "crisis"})


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False, model_from="SpacyNLP"
)
class CrisisGuard(GraphComponent, IntentClassifier):
    """Force the crisis intent on crisis phrases; overrule it on known idioms."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """The spaCy pipeline to load without SpacyNLP, the crisis intent's name, the doubt."""
        return {MODEL_KEY: str(DEFAULT_OUTPUT_DIR), CRISIS_INTENT_KEY: "crisis",
                DOUBT_MARGIN_KEY: -0.1, DOUBT_CONFIDENCE_KEY: 0.5}

    @staticmethod
    def required_packages() -> list[str]:
        """Python packages the component needs."""
        return ["spacy"]

    def __init__(self, config: dict[str, Any], nlp: Language | None = None) -> None:
        """Keep the settings; ``nlp`` (a pipeline with ``crisis_matcher``) skips loading."""
        self._model = Path(config.get(MODEL_KEY) or DEFAULT_OUTPUT_DIR)
        self._crisis_intent = str(config.get(CRISIS_INTENT_KEY) or "crisis")
        self._doubt_margin = float(config.get(DOUBT_MARGIN_KEY, -0.1))
        self._doubt_confidence = float(config.get(DOUBT_CONFIDENCE_KEY, 0.5))
        self._lock = threading.Lock()
        self._pipeline: tuple[Language, CrisisMatcher] | None = None
        if nlp is not None:
            self._pipeline = (nlp, _crisis_component(nlp))

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> CrisisGuard:
        """Create the component (nothing is loaded until the first message)."""
        return cls(config)

    def process(self, messages: list[Message], model: SpacyModel | None = None) -> list[Message]:
        """Apply the crisis rules to each message's intent and ranking.

        ``model`` is SpacyNLP's loaded pipeline (given by Rasa's graph when the NLU pipeline has
        SpacyNLP); without it the guard loads its own from the ``model`` setting.
        """
        if model is not None:
            self._use(model.model)
        for message in messages:
            text = message.get(TEXT)
            if not isinstance(text, str) or not text.strip():
                continue
            result = self.analyse(text)
            if result.crisis and self._doubted(message):
                message.set(GUARD_KEY, {"matched": False, "reason": None, "weak": True,
                                        "doubted": result.reason}, add_to_output=True)
                logger.info("crisis phrase (%s) doubted by its meaning: one safety line", result.reason)
            elif result.crisis:
                self._force_crisis(message, result.reason)
            elif result.idiom and self._predicted_intent(message) == self._crisis_intent:
                self._overrule_crisis(message)
            elif not result.idiom and self._predicted_intent(message) == self._crisis_intent:
                message.set(GUARD_KEY, {"matched": True, "reason": "meaning"}, add_to_output=True)
            elif not result.idiom and _signal_level(message) == "weak":
                message.set(GUARD_KEY, {"matched": False, "reason": None, "weak": True},
                            add_to_output=True)
        return messages

    def analyse(self, text: str) -> CrisisResult:
        """Run the crisis matcher on a text (loads the spaCy pipeline on first use)."""
        nlp, matcher = self._get_pipeline()
        return matcher.analyse(nlp.make_doc(text[: nlp.max_length]))

    def _use(self, nlp: Language) -> None:
        """Match with ``nlp``'s crisis matcher (kept while the same pipeline is given)."""
        if self._pipeline is None or self._pipeline[0] is not nlp:
            with self._lock:
                if self._pipeline is None or self._pipeline[0] is not nlp:
                    self._pipeline = (nlp, _crisis_component(nlp))

    def _get_pipeline(self) -> tuple[Language, CrisisMatcher]:
        if self._pipeline is None:
            with self._lock:
                if self._pipeline is None:
                    nlp = self._load_nlp()
                    self._pipeline = (nlp, _crisis_component(nlp))
        return self._pipeline

    def _load_nlp(self) -> Language:
        if self._model.is_dir():
            logger.debug("loading spaCy pipeline from %s", self._model)
            return load_pipeline(self._model)
        logger.warning(
            "spaCy pipeline %s not found (run python -m bot.nlp.pipeline); "
            "building the crisis matcher in memory",
            self._model,
        )
        return build_pipeline()

    @staticmethod
    def _predicted_intent(message: Message) -> str | None:
        intent = message.get(INTENT) or {}
        return intent.get(INTENT_NAME_KEY) if isinstance(intent, dict) else None

    def _doubted(self, message: Message) -> bool:
        """A phrase match whose meaning is far from any crisis, in a message sure of a topic."""
        signal = message.get(SIGNAL_KEY)
        intent = message.get(INTENT) or {}
        if not isinstance(signal, dict) or not isinstance(intent, dict):
            return False
        raw = [signal.get("margin"), signal.get("clause_margin")]
        margins = [float(m) for m in raw if isinstance(m, (int, float))]
        if len(margins) != len(raw):
            return False
        return (max(margins) < self._doubt_margin
                and intent.get(INTENT_NAME_KEY) not in UNSURE_INTENTS
                and float(intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0) >= self._doubt_confidence)

    def _force_crisis(self, message: Message, reason: str | None) -> None:
        put_first(message, self._crisis_intent)
        message.set(GUARD_KEY, {"matched": True, "reason": reason}, add_to_output=True)
        logger.info("crisis phrase matched (%s): intent set to %s", reason, self._crisis_intent)

    def _overrule_crisis(self, message: Message) -> None:
        ranking = ranking_without(message, self._crisis_intent)
        best = (
            dict(ranking[0])
            if ranking
            else {INTENT_NAME_KEY: DEFAULT_NLU_FALLBACK_INTENT_NAME, PREDICTED_CONFIDENCE_KEY: 0.0}
        )
        message.set(INTENT, best, add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        message.set(
            GUARD_KEY, {"matched": False, "reason": None, "overruled": True}, add_to_output=True
        )
        logger.info("crisis prediction overruled by an idiom: intent set to %s", best[INTENT_NAME_KEY])


def _signal_level(message: Message) -> str | None:
    signal = message.get(SIGNAL_KEY) or {}
    return signal.get("level") if isinstance(signal, dict) else None


def _crisis_component(nlp: Language) -> CrisisMatcher:
    """The pipeline's crisis matcher (enabled or not), added if the pipeline lacks one.

    An added matcher is disabled, as in the saved pipeline: the guard calls it itself, and the
    pipeline may be SpacyNLP's, which would otherwise run it a second time on every message.
    """
    for _, component in nlp.components:
        if isinstance(component, CrisisMatcher):
            return component
    logger.warning("spaCy pipeline has no %s component: adding one", FACTORY_NAME)
    added = nlp.add_pipe(FACTORY_NAME)
    if not isinstance(added, CrisisMatcher):
        raise TypeError(f"factory {FACTORY_NAME!r} did not build a CrisisMatcher")
    nlp.disable_pipe(FACTORY_NAME)
    return added
