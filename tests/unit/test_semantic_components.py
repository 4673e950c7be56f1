"""The Rasa components of the NLU: graph validation, training, saving, loading and process().

The classifier is trained on tests/unit/data/small_nlu.yml through the components themselves
(featurizer -> classifier -> model storage -> load), then asked with and without a tracker.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.engine.validation import validate
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.data import TrainingType
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message

from bot.nlp import encoder
from bot.rasa_components.semantic_classifier import SemanticIntentClassifier
from bot.rasa_components.sentence_encoder import ALIAS, SentenceEncoderFeaturizer

DATA = Path(__file__).with_name("data") / "small_nlu.yml"
FEATURIZER = "bot.rasa_components.sentence_encoder.SentenceEncoderFeaturizer"
CLASSIFIER = "bot.rasa_components.semantic_classifier.SemanticIntentClassifier"


def _graph(pipeline: list[dict[str, Any]]) -> Any:
    config = {"recipe": "default.v1", "language": "en", "pipeline": pipeline,
              "policies": [{"name": "RulePolicy"}]}
    return DefaultV1Recipe().graph_config_for_recipe(config, {}, TrainingType.BOTH)


def test_graph_schema_accepts_the_components() -> None:
    model_config = _graph([
        {"name": "WhitespaceTokenizer"},
        {"name": FEATURIZER},
        {"name": CLASSIFIER, "min_similarity": 0.55},
    ])
    validate(model_config)
    nodes = model_config.predict_schema.nodes
    [classifier] = [n for n in nodes.values() if n.uses is SemanticIntentClassifier]
    assert classifier.config["min_similarity"] == 0.55
    # Rasa gives the classifier the conversation at prediction time.
    assert classifier.needs.get("tracker") == "__tracker__"
    assert any(n.uses is SemanticIntentClassifier for n in model_config.train_schema.nodes.values())


def test_graph_schema_accepts_the_shipped_config() -> None:
    from rasa.shared.utils.io import read_yaml_file

    config = read_yaml_file(str(Path(__file__).resolve().parents[2] / "config.yml"))
    model_config = DefaultV1Recipe().graph_config_for_recipe(config, {}, TrainingType.BOTH)
    validate(model_config)


# -- components, trained here ---------------------------------------------------------------
@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> LocalModelStorage:
    return LocalModelStorage(tmp_path_factory.mktemp("model_storage"))


@pytest.fixture(scope="module")
def featurizer(tmp_path_factory: pytest.TempPathFactory) -> SentenceEncoderFeaturizer:
    config = {**SentenceEncoderFeaturizer.get_default_config(),
              "cache_dir": str(tmp_path_factory.mktemp("encoder_cache"))}
    return SentenceEncoderFeaturizer(config, "featurizer")


@pytest.fixture(scope="module")
def resource() -> Resource:
    return Resource("semantic_classifier")


@pytest.fixture(scope="module")
def trained(featurizer: SentenceEncoderFeaturizer, storage: LocalModelStorage,
            resource: Resource) -> SemanticIntentClassifier:
    data = featurizer.process_training_data(load_data(str(DATA)))
    context = ExecutionContext(GraphSchema({}), "test-model")
    classifier = SemanticIntentClassifier.create(
        SemanticIntentClassifier.get_default_config(), storage, resource, context)
    classifier.train(data)
    return classifier


@pytest.fixture(scope="module")
def loaded(trained: SemanticIntentClassifier, storage: LocalModelStorage,
           resource: Resource) -> SemanticIntentClassifier:
    return SemanticIntentClassifier.load(
        SemanticIntentClassifier.get_default_config(), storage, resource,
        ExecutionContext(GraphSchema({}), "test-model"))


def _parse(featurizer: SentenceEncoderFeaturizer, classifier: SemanticIntentClassifier,
           text: str, tracker: DialogueStateTracker | None = None) -> Message:
    [message] = featurizer.process([Message({TEXT: text})])
    [message] = classifier.process([message], tracker=tracker)
    return message


def _tracker(*events: Any) -> DialogueStateTracker:
    domain = Domain.from_yaml("version: '3.1'\nslots:\n  requested_slot:\n    type: any\n"
                              "    mappings: []\n")
    return DialogueStateTracker.from_events("user-1", list(events), domain.slots)


def test_featurizer_gives_one_unit_sentence_vector(featurizer: SentenceEncoderFeaturizer) -> None:
    [message] = featurizer.process([Message({TEXT: "do probiotics help with mood?"})])
    sequence, sentence = message.get_dense_features(TEXT, [ALIAS])
    assert sequence is None
    assert sentence is not None and sentence.features.shape == (1, 384)
    assert abs(float(np.linalg.norm(sentence.features)) - 1.0) < 1e-5
    expected = encoder.shared_encoder().encode_one("do probiotics help with mood?")
    assert np.allclose(sentence.features[0], expected, atol=1e-5)


@pytest.mark.parametrize("text", ["/greet", "  /book_appointment{\"x\": 1}", "", "   "])
def test_payloads_and_blank_text_get_no_features(featurizer: SentenceEncoderFeaturizer,
                                                 text: str) -> None:
    [message] = featurizer.process([Message({TEXT: text})])
    assert message.get_dense_features(TEXT, [ALIAS]) == (None, None)


def test_training_vectors_are_cached_privately(featurizer: SentenceEncoderFeaturizer,
                                               trained: SemanticIntentClassifier) -> None:
    [cache] = list(Path(featurizer._cache_dir).glob("*.npz"))
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    with np.load(cache) as stored:
        assert len(stored["keys"]) == len(load_data(str(DATA)).intent_examples)


def test_model_is_saved_to_its_resource(trained: SemanticIntentClassifier,
                                        storage: LocalModelStorage, resource: Resource) -> None:
    with storage.read_from(resource) as directory:
        assert {p.name for p in Path(directory).iterdir()} >= {"intent_model.npz",
                                                               "intent_model.json"}


def test_untrained_classifier_leaves_messages_alone(storage: LocalModelStorage) -> None:
    classifier = SemanticIntentClassifier(SemanticIntentClassifier.get_default_config(), storage,
                                          Resource("untrained"))
    message = Message({TEXT: "hello"})
    assert classifier.process([message], tracker=None) == [message]
    assert message.get("intent") is None


def test_training_without_vectors_is_a_clear_error(storage: LocalModelStorage) -> None:
    context = ExecutionContext(GraphSchema({}), "test-model")
    classifier = SemanticIntentClassifier.create(
        SemanticIntentClassifier.get_default_config(), storage, Resource("empty"), context)
    with pytest.raises(ValueError, match="no training examples with vectors"):
        classifier.train(load_data(str(DATA)))  # not featurized


@pytest.mark.parametrize("which", ["trained", "loaded"])
def test_process_without_a_tracker(request: pytest.FixtureRequest,
                                   featurizer: SentenceEncoderFeaturizer, which: str) -> None:
    classifier = request.getfixturevalue(which)
    message = _parse(featurizer, classifier, "can a faecal transplant help with anxiety?")
    assert message.get("intent")["name"] == "fmt"
    assert message.get("intent_ranking")[0]["name"] == "fmt"
    assert message.get("understanding")["read_as"] == "whole"
    assert message.get("crisis_signal")["level"] is None
    assert set(message.as_dict(only_output_properties=True)) >= {
        "intent", "intent_ranking", "understanding", "crisis_signal"}
    out_of_scope = _parse(featurizer, classifier, "how do I fix my printer")
    assert out_of_scope.get("intent")["name"] == "out_of_scope"


def test_trained_and_loaded_classifiers_agree(trained: SemanticIntentClassifier,
                                              loaded: SemanticIntentClassifier,
                                              featurizer: SentenceEncoderFeaturizer) -> None:
    for text in ["which strains help mood?", "probiotics", "hello", "I want to die"]:
        a = _parse(featurizer, trained, text).get("intent_ranking")
        b = _parse(featurizer, loaded, text).get("intent_ranking")
        assert [r["name"] for r in a[:3]] == [r["name"] for r in b[:3]], text
        assert np.allclose([r["confidence"] for r in a[:3]], [r["confidence"] for r in b[:3]],
                           atol=2e-3), text


def test_process_with_a_tracker_reads_a_follow_up(loaded: SemanticIntentClassifier,
                                                  featurizer: SentenceEncoderFeaturizer) -> None:
    tracker = _tracker(ActionExecuted("action_listen"),
                       UserUttered("what is a fecal transplant", {"name": "fmt", "confidence": 0.9}),
                       BotUttered("FMT is ..."), ActionExecuted("action_listen"))
    alone = _parse(featurizer, loaded, "tell me more")
    follow_up = _parse(featurizer, loaded, "tell me more", tracker)
    assert alone.get("intent")["name"] != "fmt"
    assert follow_up.get("intent")["name"] == "fmt"
    assert follow_up.get("understanding")["follow_up_of"] == "fmt"
    assert follow_up.get("understanding")["context_text"] == "what is a fecal transplant"


def test_process_with_a_tracker_inside_the_booking_form(
    loaded: SemanticIntentClassifier, featurizer: SentenceEncoderFeaturizer
) -> None:
    tracker = _tracker(UserUttered("book me in", {"name": "book_appointment", "confidence": 0.9}),
                       ActiveLoop("booking_form"), SlotSet("requested_slot", "booking_name"))
    for name in ["Hope Rivers", "Grace Killian", "Faith Mourning"]:
        message = _parse(featurizer, loaded, name, tracker)
        assert message.get("crisis_signal")["level"] is None, name
        assert message.get("intent")["name"] != "crisis", name


def test_a_clear_risk_is_crisis_through_the_components(
    loaded: SemanticIntentClassifier, featurizer: SentenceEncoderFeaturizer
) -> None:
    message = _parse(featurizer, loaded, "I have decided to end my life this weekend")
    assert message.get("intent")["name"] == "crisis"
    assert message.get("crisis_signal")["level"] == "clear"


def test_message_without_features_is_left_unclassified(
    loaded: SemanticIntentClassifier, featurizer: SentenceEncoderFeaturizer
) -> None:
    [message] = loaded.process(featurizer.process([Message({TEXT: "/greet"})]), tracker=None)
    assert message.get("intent") is None
