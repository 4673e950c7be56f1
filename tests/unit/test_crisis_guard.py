"""CrisisGuard on Rasa messages carrying a fake classifier result (no model is trained)."""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any
from unittest.mock import Mock

import pytest
import spacy
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.validation import validate
from rasa.shared.data import TrainingType
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from spacy.language import Language

from rasa.nlu.utils.spacy_utils import SpacyModel

from bot.nlp.pipeline import build_pipeline, save_pipeline
from bot.rasa_components.crisis_guard import GUARD_KEY, CrisisGuard


@pytest.fixture(scope="module")
def nlp() -> Language:
    """The project's pipeline, built in memory."""
    return build_pipeline()


@pytest.fixture()
def guard(nlp: Language) -> CrisisGuard:
    return CrisisGuard(CrisisGuard.get_default_config(), nlp=nlp)


def message(text: Any, ranking: list[tuple[str, float]] | None = None) -> Message:
    """A message as the intent classifier leaves it."""
    data: dict[str, Any] = {TEXT: text}
    if ranking is not None:
        data[INTENT] = {"name": ranking[0][0], "confidence": ranking[0][1]}
        data[INTENT_RANKING_KEY] = [{"name": n, "confidence": c} for n, c in ranking]
    return Message(data=data, output_properties={TEXT, INTENT, INTENT_RANKING_KEY})


def test_crisis_phrase_overrides_the_classifier(guard: CrisisGuard) -> None:
    msg = message("I want to kill myself", [("greet", 0.9), ("crisis", 0.06), ("ibs", 0.04)])
    guard.process([msg])
    assert msg.get(INTENT) == {"name": "crisis", "confidence": 1.0}
    assert msg.get(INTENT_RANKING_KEY) == [
        {"name": "crisis", "confidence": 1.0},
        {"name": "greet", "confidence": 0.9},
        {"name": "ibs", "confidence": 0.04},
    ]
    assert msg.get(GUARD_KEY) == {"matched": True, "reason": "suicide"}
    output = msg.as_dict(only_output_properties=True)
    assert output[GUARD_KEY]["matched"] is True
    assert output[INTENT]["name"] == "crisis"


def test_crisis_phrase_overrides_nlu_fallback(guard: CrisisGuard) -> None:
    msg = message("my dad cant breathe", [("nlu_fallback", 0.5), ("greet", 0.3), ("ibs", 0.2)])
    guard.process([msg])
    assert msg.get(INTENT)["name"] == "crisis"
    assert [r["name"] for r in msg.get(INTENT_RANKING_KEY)] == ["crisis", "nlu_fallback", "greet", "ibs"]
    assert msg.get(GUARD_KEY) == {"matched": True, "reason": "emergency"}


def test_crisis_phrase_without_any_classifier(guard: CrisisGuard) -> None:
    msg = message("je veux mourir")
    guard.process([msg])
    assert msg.get(INTENT) == {"name": "crisis", "confidence": 1.0}
    assert msg.get(INTENT_RANKING_KEY) == [{"name": "crisis", "confidence": 1.0}]


def test_a_crisis_meaning_without_a_phrase_is_marked_as_meaning(guard: CrisisGuard) -> None:
    msg = message("i've been putting my tablets aside for weeks to take them all",
                  [("crisis", 0.81), ("personal_advice", 0.1)])
    guard.process([msg])
    assert msg.get(INTENT)["name"] == "crisis"
    assert msg.get(GUARD_KEY) == {"matched": True, "reason": "meaning"}


def test_an_unsure_classifier_does_not_turn_a_message_into_crisis(guard: CrisisGuard) -> None:
    """The old rule "an unsure best guess of crisis is crisis" took names for crises."""
    msg = message("Hope Rivers", [("nlu_fallback", 0.3), ("greet", 0.28), ("crisis", 0.25)])
    guard.process([msg])
    assert msg.get(INTENT)["name"] == "nlu_fallback"
    assert msg.get(GUARD_KEY) is None


def test_a_weak_signal_asks_for_a_safety_line_and_keeps_the_intent(guard: CrisisGuard) -> None:
    msg = message("everything feels pointless lately, do probiotics help mood?",
                  [("probiotics_mood", 0.6), ("crisis", 0.3)])
    msg.set("crisis_signal", {"level": "weak", "probability": 0.3, "similarity": 0.5})
    guard.process([msg])
    assert msg.get(INTENT)["name"] == "probiotics_mood"
    assert msg.get(GUARD_KEY) == {"matched": False, "reason": None, "weak": True}


def test_a_weak_signal_explained_by_an_idiom_is_dropped(guard: CrisisGuard) -> None:
    msg = message("this IBS is killing me", [("ibs", 0.6), ("crisis", 0.3)])
    msg.set("crisis_signal", {"level": "weak", "probability": 0.3, "similarity": 0.5})
    guard.process([msg])
    assert msg.get(INTENT)["name"] == "ibs"
    assert msg.get(GUARD_KEY) is None


def test_idiom_overrules_a_crisis_prediction(guard: CrisisGuard) -> None:
    msg = message("this IBS is killing me", [("crisis", 0.7), ("ibs", 0.2), ("greet", 0.1)])
    guard.process([msg])
    assert msg.get(INTENT) == {"name": "ibs", "confidence": 0.2}
    assert [r["name"] for r in msg.get(INTENT_RANKING_KEY)] == ["ibs", "greet"]
    assert msg.get(GUARD_KEY) == {"matched": False, "reason": None, "overruled": True}


def test_idiom_overrules_to_fallback_when_nothing_else_ranks(guard: CrisisGuard) -> None:
    msg = message("I'm scared to death of needles", [("crisis", 0.9)])
    guard.process([msg])
    assert msg.get(INTENT) == {"name": "nlu_fallback", "confidence": 0.0}
    assert msg.get(INTENT_RANKING_KEY) == []


def test_idiom_with_crisis_phrase_is_still_a_crisis(guard: CrisisGuard) -> None:
    msg = message("this IBS is killing me and I want to kill myself", [("ibs", 0.8), ("crisis", 0.2)])
    guard.process([msg])
    assert msg.get(INTENT)["name"] == "crisis"
    assert msg.get(GUARD_KEY) == {"matched": True, "reason": "suicide"}


@pytest.mark.parametrize(
    ("text", "ranking"),
    [
        ("what is butyrate?", [("scfa", 0.95), ("neurotransmitters", 0.05)]),
        ("I'm dying to know what butyrate is", [("scfa", 0.8), ("crisis", 0.2)]),
        ("", [("greet", 0.0)]),
        ("   ", [("greet", 0.0)]),
        (None, [("greet", 0.0)]),
    ],
)
def test_normal_messages_are_left_alone(
    guard: CrisisGuard, text: Any, ranking: list[tuple[str, float]]
) -> None:
    msg = message(text, ranking)
    before = copy.deepcopy(msg.data)
    guard.process([msg])
    assert msg.data == before
    assert GUARD_KEY not in msg.data


def test_a_misspelt_crisis_the_classifier_caught_stays_crisis(guard: CrisisGuard) -> None:
    msg = message("i wnat to kil myslef", [("crisis", 0.9), ("greet", 0.1)])
    guard.process([msg])
    assert msg.get(INTENT) == {"name": "crisis", "confidence": 0.9}
    assert msg.get(GUARD_KEY) == {"matched": True, "reason": "meaning"}


def test_several_messages(guard: CrisisGuard) -> None:
    messages = [message("hi", [("greet", 0.99)]), message("I took too many pills", [("greet", 0.5)])]
    guard.process(messages)
    assert [m.get(INTENT)["name"] for m in messages] == ["greet", "crisis"]
    assert messages[1].get(GUARD_KEY)["reason"] == "overdose"


def test_loads_the_saved_pipeline_from_model(tmp_path: Path) -> None:
    model = save_pipeline(tmp_path / "clinic_en")
    config = {**CrisisGuard.get_default_config(), "model": str(model)}
    guard = CrisisGuard.create(config, Mock(), Mock(), Mock())
    msg = message("I want to hurt someone", [("greet", 0.9)])
    guard.process([msg])
    assert msg.get(GUARD_KEY) == {"matched": True, "reason": "harm_others"}


def test_uses_the_pipeline_spacy_nlp_loaded(
    nlp: Language, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given SpacyNLP's model, the guard loads no pipeline of its own (one copy in memory)."""
    def no_second_pipeline(*_: Any, **__: Any) -> Language:
        raise AssertionError("a second spaCy pipeline was loaded")

    monkeypatch.setattr("bot.rasa_components.crisis_guard.load_pipeline", no_second_pipeline)
    monkeypatch.setattr("bot.rasa_components.crisis_guard.build_pipeline", no_second_pipeline)
    saved = save_pipeline(tmp_path / "clinic_en")
    guard = CrisisGuard.create({**CrisisGuard.get_default_config(), "model": str(saved)},
                               Mock(), Mock(), Mock())
    model = SpacyModel(model=nlp, model_name="clinic_en")
    msg = message("I want to hurt someone", [("greet", 0.9)])
    guard.process([msg], model=model)
    assert msg.get(GUARD_KEY) == {"matched": True, "reason": "harm_others"}
    assert guard.analyse("I WANT TO DIE").reason == "suicide"


def test_missing_model_dir_still_guards(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    guard = CrisisGuard({"model": str(tmp_path / "missing")})
    msg = message("I want to kill myself", [("greet", 0.9)])
    with caplog.at_level(logging.WARNING):
        guard.process([msg])
    assert msg.get(INTENT)["name"] == "crisis"
    assert "not found" in caplog.text


def test_pipeline_without_crisis_matcher_gets_one() -> None:
    nlp = spacy.blank("en")
    guard = CrisisGuard(CrisisGuard.get_default_config(), nlp=nlp)
    assert "crisis_matcher" in nlp.component_names
    assert "crisis_matcher" not in nlp.pipe_names  # the guard runs it, not the pipeline
    assert guard.analyse("I WANT TO DIE").reason == "suicide"


def predict_schema(*pipeline: dict[str, Any]) -> Any:
    """The validated predict graph of an NLU pipeline ending with the guard."""
    config = {
        "recipe": "default.v1",
        "language": "en",
        "pipeline": [*pipeline, {"name": "CountVectorsFeaturizer"},
                     {"name": "LogisticRegressionClassifier"},
                     {"name": "bot.rasa_components.crisis_guard.CrisisGuard"}],
        "policies": [],
    }
    model_config = DefaultV1Recipe().graph_config_for_recipe(config, {}, TrainingType.NLU)
    validate(model_config)
    return model_config.predict_schema


def test_graph_schema_accepts_the_component() -> None:
    schema = predict_schema({"name": "WhitespaceTokenizer"})
    assert any("CrisisGuard" in node for node in schema.nodes)


def test_graph_gives_the_guard_spacy_nlp_model() -> None:
    """With SpacyNLP in the pipeline, Rasa hands its loaded model to the guard's process."""
    nodes = predict_schema({"name": "SpacyNLP", "model": "var/spacy/clinic_en"},
                           {"name": "SpacyTokenizer"}).nodes
    guard = next(node for name, node in nodes.items() if "CrisisGuard" in name)
    assert guard.needs["model"] == next(name for name in nodes if name.startswith("provide_SpacyNLP"))
