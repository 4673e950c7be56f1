"""The scope gate: evidence words learnt from training data, and what it does to a parse."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from spacy.language import Language

from bot.nlp.pipeline import build_pipeline
from bot.nlp.scope_lexicon import ScopeLexicon, build_lexicon
from bot.rasa_components.scope_gate import GATE_KEY, ScopeGate

# Word log-probabilities as in everyday English: "long" and "hi" are common, the rest rare.
LOGPROBS = {"long": -7.5, "hi": -8.0, "hello": -9.0, "boil": -11.9, "egg": -10.5,
            "stress": -10.4, "gut": -11.5}

TRAINING = {
    "diet": ["can diet change my gut bacteria", "how long until food changes the microbiome",
             "does eating fibre feed gut bacteria"],
    "scfa": ["what is butyrate", "what are short chain fatty acids"],
    "sources": ["who wrote the article", "where does this research come from"],
    "stress_harms_gut": ["how does stress damage the gut", "can stress hurt my digestion"],
    "book_appointment": ["book an appointment", "i want to book a visit", "appointment please"],
    "greet": ["hi", "hello there"],
    "bot_challenge": ["are you an ai", "am i talking to a bot"],
    "inform": ["my name is Ana"],
    "out_of_scope": ["how long do I bake chicken", "write me a poem", "give me a recipe",
                     "what's the weather"],
}


@pytest.fixture(scope="module")
def nlp() -> Language:
    return build_pipeline()


def forms(nlp: Language, text: str) -> list[tuple[str, str]]:
    return [(t.text, t.lemma_) for t in nlp(text)]


@pytest.fixture(scope="module")
def lexicon(nlp: Language) -> ScopeLexicon:
    examples = [(intent, forms(nlp, text)) for intent, texts in TRAINING.items() for text in texts]
    return build_lexicon(examples, "out_of_scope", exempt=["inform"],
                         topical=["diet", "scfa", "sources", "stress_harms_gut"],
                         logprobs=LOGPROBS)


def test_topic_words_are_evidence_and_generic_ones_are_not(lexicon: ScopeLexicon) -> None:
    diet = set(lexicon.to_dict()["diet"]["words"])
    assert {"gut", "bacteria", "microbiome", "fibre", "diet"} <= diet
    assert "long" not in diet  # as typical of the out-of-scope examples
    assert "chicken" not in diet


def test_out_of_scope_and_exempt_intents_are_not_gated(lexicon: ScopeLexicon) -> None:
    assert not lexicon.gated("out_of_scope")
    assert not lexicon.gated("inform")
    assert lexicon.gated("diet") and lexicon.gated("greet")


def test_small_talk_keeps_its_common_words(lexicon: ScopeLexicon, nlp: Language) -> None:
    assert lexicon.evidence_in("greet", forms(nlp, "Hi!")) == ["hi"]


def test_words_typical_of_out_of_scope_examples_are_dropped(lexicon: ScopeLexicon) -> None:
    # "write" is in 1 of 2 sources examples but also in 1 of 4 out-of-scope ones: ratio 2 kept;
    # a stricter ratio drops it.
    assert "write" in lexicon.to_dict()["sources"]["words"]


def test_a_stricter_ratio_drops_shared_words(nlp: Language) -> None:
    examples = [(intent, forms(nlp, text)) for intent, texts in TRAINING.items() for text in texts]
    strict = build_lexicon(examples, "out_of_scope", exempt=["inform"], min_ratio=3.0,
                           logprobs=LOGPROBS)
    assert "write" not in strict.to_dict()["sources"]["words"]
    assert "article" in strict.to_dict()["sources"]["words"]


def test_lemmas_and_typos_match(lexicon: ScopeLexicon, nlp: Language) -> None:
    assert lexicon.evidence_in("sources", forms(nlp, "Who writes these?")) == ["write"]
    assert lexicon.evidence_in("diet", forms(nlp, "does my diet chnage my microbiomme")) == [
        "diet", "change", "microbiome"]
    assert lexicon.evidence_in("diet", forms(nlp, "Bacterium")) == ["bacterium"]
    assert lexicon.evidence_in("scfa", forms(nlp, "butyrat?")) == ["butyrate"]
    assert lexicon.evidence_in("diet", forms(nlp, "how long do I boil an egg")) == []


def test_a_word_whose_lemma_is_a_stop_word_still_counts(
    lexicon: ScopeLexicon, nlp: Language
) -> None:
    # Rasa lower-cases text for spaCy, and the lookup table lemmatizes "ai" as "have".
    assert [t.lemma_ for t in nlp("ai")] == ["have"]
    assert lexicon.evidence_in("bot_challenge", forms(nlp, "are you ai?")) == ["ai"]


def test_short_words_need_an_exact_match(lexicon: ScopeLexicon, nlp: Language) -> None:
    assert lexicon.evidence_in("diet", forms(nlp, "the gum")) == []  # "gut" is 3 letters


def test_one_everyday_word_is_weak_evidence(lexicon: ScopeLexicon) -> None:
    assert lexicon.to_dict()["stress_harms_gut"]["weak"] == ["stress"]
    assert lexicon.is_weak("stress_harms_gut", ["stress"])
    assert lexicon.is_weak("stress_harms_gut", ["stress", "stress"])
    assert not lexicon.is_weak("stress_harms_gut", ["stress", "gut"])
    assert not lexicon.is_weak("stress_harms_gut", ["digestion"])
    assert lexicon.to_dict()["greet"]["weak"] == []  # small talk is all everyday words


def test_a_lexicon_saved_as_plain_word_lists_still_loads(nlp: Language) -> None:
    old = ScopeLexicon.from_dict({"diet": ["gut", "diet"]})
    assert old.evidence_in("diet", forms(nlp, "gut stuff")) == ["gut"]
    assert not old.is_weak("diet", ["diet"])


def test_huge_input_is_checked_quickly(lexicon: ScopeLexicon, nlp: Language) -> None:
    began = time.perf_counter()
    assert lexicon.evidence_in("diet", forms(nlp, "x" * 20_000)) == []
    assert lexicon.evidence_in("diet", forms(nlp, "qwertyuiop " * 2_000)) == []
    assert time.perf_counter() - began < 2.0


def test_round_trip_through_a_dict(lexicon: ScopeLexicon, nlp: Language) -> None:
    again = ScopeLexicon.from_dict(lexicon.to_dict())
    assert again.to_dict() == lexicon.to_dict()
    assert again.evidence_in("diet", forms(nlp, "Gut bacteria")) == ["gut", "bacteria"]


# --- the Rasa component -------------------------------------------------------------------


def tokenised(nlp: Language, text: str, **data: Any) -> Message:
    tokens = [Token(t.text, t.idx, lemma=t.lemma_) for t in nlp(text)]
    return Message(data={TEXT: text, TOKENS_NAMES[TEXT]: tokens, **data},
                   output_properties={TEXT, INTENT, INTENT_RANKING_KEY})


def predicted(nlp: Language, text: str, ranking: list[tuple[str, float]]) -> Message:
    msg = tokenised(nlp, text)
    msg.set(INTENT, {"name": ranking[0][0], "confidence": ranking[0][1]})
    msg.set(INTENT_RANKING_KEY, [{"name": n, "confidence": c} for n, c in ranking])
    return msg


@pytest.fixture()
def trained_gate(nlp: Language, tmp_path: Path) -> ScopeGate:
    """A gate trained on TRAINING, saved to model storage and loaded back as Rasa does."""
    (tmp_path / "storage").mkdir()
    storage = LocalModelStorage.create(tmp_path / "storage")
    resource = Resource("scope_gate")
    context = ExecutionContext(graph_schema=None, model_id="m")  # type: ignore[arg-type]
    gate = ScopeGate.create(ScopeGate.get_default_config(), storage, resource, context)
    data = TrainingData([tokenised(nlp, text, intent=intent)
                         for intent, texts in TRAINING.items() for text in texts])
    gate.train(data)
    return ScopeGate.load(ScopeGate.get_default_config(), storage, resource, context)


def test_a_confident_topic_without_evidence_becomes_out_of_scope(
    trained_gate: ScopeGate, nlp: Language
) -> None:
    msg = predicted(nlp, "how long do I boil an egg", [("diet", 0.97), ("scfa", 0.02)])
    trained_gate.process([msg])
    assert msg.get(INTENT) == {"name": "out_of_scope", "confidence": 1.0}
    assert [r["name"] for r in msg.get(INTENT_RANKING_KEY)] == ["out_of_scope", "diet", "scfa"]
    assert msg.as_dict(only_output_properties=True)[GATE_KEY] == {
        "intent": "diet", "evidence": [], "weak": False}


def test_a_topic_with_evidence_is_left_alone(trained_gate: ScopeGate, nlp: Language) -> None:
    msg = predicted(nlp, "Can kimchi change my gut bacteria?", [("diet", 0.9), ("scfa", 0.1)])
    trained_gate.process([msg])
    assert msg.get(INTENT) == {"name": "diet", "confidence": 0.9}
    assert msg.get(GATE_KEY) == {"intent": "diet", "evidence": ["change", "gut", "bacteria"],
                                 "weak": False}


def test_an_unsure_guess_without_evidence_is_not_offered_as_a_choice(
    trained_gate: ScopeGate, nlp: Language
) -> None:
    msg = predicted(nlp, "is it raining in Banff", [("nlu_fallback", 0.4), ("scfa", 0.35),
                                                     ("diet", 0.3)])
    trained_gate.process([msg])
    assert msg.get(INTENT)["name"] == "out_of_scope"
    kept = predicted(nlp, "butyrate fibre", [("nlu_fallback", 0.4), ("scfa", 0.35), ("diet", 0.3)])
    trained_gate.process([kept])
    assert kept.get(INTENT)["name"] == "nlu_fallback"


def test_weak_evidence_needs_a_confident_classifier(trained_gate: ScopeGate, nlp: Language) -> None:
    unsure = predicted(nlp, "how do I stress test my PC", [("stress_harms_gut", 0.7), ("diet", 0.3)])
    sure = predicted(nlp, "does stress matter?", [("stress_harms_gut", 0.95), ("diet", 0.05)])
    strong = predicted(nlp, "stress and my gut", [("stress_harms_gut", 0.5), ("diet", 0.3)])
    trained_gate.process([unsure, sure, strong])
    assert unsure.get(INTENT)["name"] == "out_of_scope"
    assert unsure.get(GATE_KEY) == {"intent": "stress_harms_gut", "evidence": ["stress"], "weak": True}
    assert sure.get(INTENT)["name"] == "stress_harms_gut"
    assert strong.get(INTENT)["name"] == "stress_harms_gut"


def test_one_everyday_word_is_enough_to_ask_for_a_booking(
    trained_gate: ScopeGate, nlp: Language
) -> None:
    msg = predicted(nlp, "can I book for next week", [("book_appointment", 0.6), ("diet", 0.4)])
    trained_gate.process([msg])
    assert msg.get(INTENT)["name"] == "book_appointment"
    assert msg.get(GATE_KEY) == {"intent": "book_appointment", "evidence": ["book"], "weak": False}


def test_small_talk_of_stop_words_only_is_left_to_the_classifier(
    trained_gate: ScopeGate, nlp: Language
) -> None:
    stop_words = predicted(nlp, "what can you do", [("greet", 0.9), ("diet", 0.1)])
    topic = predicted(nlp, "what can you do", [("diet", 0.9), ("greet", 0.1)])
    content = predicted(nlp, "what's the capital of Peru", [("greet", 0.9), ("diet", 0.1)])
    trained_gate.process([stop_words, topic, content])
    assert stop_words.get(INTENT)["name"] == "greet"
    assert topic.get(INTENT)["name"] == "out_of_scope"  # a topic answer needs a topic word
    assert content.get(INTENT)["name"] == "out_of_scope"


def test_form_answers_and_button_payloads_are_not_gated(
    trained_gate: ScopeGate, nlp: Language
) -> None:
    name = predicted(nlp, "Olivia Nguyen", [("inform", 0.8), ("diet", 0.2)])
    button = predicted(nlp, "/scfa", [("diet", 0.5), ("scfa", 0.5)])
    empty = predicted(nlp, "  ", [("greet", 0.5)])
    trained_gate.process([name, button, empty])
    assert [m.get(INTENT)["name"] for m in (name, button, empty)] == ["inform", "diet", "greet"]


def test_an_untrained_gate_gates_nothing(nlp: Language, tmp_path: Path) -> None:
    storage = LocalModelStorage.create(tmp_path / "empty")
    context = ExecutionContext(graph_schema=None, model_id="m")  # type: ignore[arg-type]
    gate = ScopeGate.load(ScopeGate.get_default_config(), storage, Resource("missing"), context)
    msg = predicted(nlp, "how long do I boil an egg", [("diet", 0.97)])
    gate.process([msg])
    assert msg.get(INTENT)["name"] == "diet"
