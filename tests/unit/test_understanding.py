"""The Reader's decisions, with the real encoder and a small model trained here.

The model is trained on tests/unit/data/small_nlu.yml (about ten examples per intent, written
for these tests), so every case below is a message the model was not trained on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from bot.nlp import encoder
from bot.nlp.intent_model import IntentModel, train_intent_model
from bot.nlp.understanding import Context, Reader, Reading, Settings

DATA = Path(__file__).with_name("data") / "small_nlu.yml"


def _examples() -> dict[str, list[str]]:
    data = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    return {block["intent"]: [line[2:].strip() for line in block["examples"].splitlines()
                              if line.strip()] for block in data["nlu"]}


@pytest.fixture(scope="module")
def enc() -> encoder.SentenceEncoder:
    return encoder.shared_encoder()


@pytest.fixture(scope="module")
def trained(enc: encoder.SentenceEncoder) -> tuple[np.ndarray, list[str]]:
    examples = _examples()
    texts = [t for texts in examples.values() for t in texts]
    labels = [label for label, texts in examples.items() for _ in texts]
    return enc.encode(texts), labels


@pytest.fixture(scope="module")
def model(trained: tuple[np.ndarray, list[str]]) -> IntentModel:
    return train_intent_model(*trained)


@pytest.fixture(scope="module")
def reader(model: IntentModel, enc: encoder.SentenceEncoder) -> Reader:
    return Reader(model, enc, Settings())


def read(reader: Reader, text: str, context: Context | None = None) -> Reading:
    return reader.read(text, reader.encoder.encode([text])[0], context)


FMT = Context("fmt", "what is a fecal transplant")
DIET = Context("diet", "what should I eat for my gut")


# -- scope ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["how do I fix my printer", "what's a good pizza place nearby"])
def test_everyday_request_is_out_of_scope(reader: Reader, text: str) -> None:
    assert read(reader, text).intent == "out_of_scope"


def test_out_of_scope_by_distance_when_no_example_is_near(
    trained: tuple[np.ndarray, list[str]], enc: encoder.SentenceEncoder
) -> None:
    # Without out_of_scope (and form answer) examples the regression must pick some topic;
    # distance decides.
    vectors, labels = trained
    keep = [i for i, label in enumerate(labels) if label not in {"out_of_scope", "inform"}]
    topics_only = train_intent_model(vectors[keep], [labels[i] for i in keep])
    reader = Reader(topics_only, enc, Settings())
    far = read(reader, "how do I fix my printer")
    assert far.ranking[0][0] != "out_of_scope"  # the regression's best guess is a topic ...
    assert far.similarity < Settings().min_similarity
    assert far.intent == "out_of_scope"  # ... but nothing it was taught is near
    near = read(reader, "can a faecal transplant help with anxiety?")
    assert near.intent == "fmt"
    assert near.similarity >= Settings().min_similarity


def test_in_scope_questions_are_not_turned_away(reader: Reader) -> None:
    for text, intent in [("is a fecal transplant proven to work for depression", "fmt"),
                         ("what foods help the bacteria in my gut?", "diet"),
                         ("which lactobacillus strain is best for anxiety", "probiotic_strains")]:
        assert read(reader, text).intent == intent, text


# -- two close topics -----------------------------------------------------------------------
def test_two_close_topics_ask_which_was_meant(reader: Reader) -> None:
    result = read(reader, "probiotics")
    assert result.intent == "nlu_fallback"
    assert set(result.clarify) == {"probiotic_strains", "probiotic_evidence"}
    assert result.ranking[0][0] == "nlu_fallback"
    assert {name for name, _ in result.ranking[1:3]} == set(result.clarify)
    assert result.as_parse()["understanding"]["clarify"] == result.clarify


def test_a_clear_winner_is_not_questioned(reader: Reader) -> None:
    result = read(reader, "which probiotic strains help with low mood?")
    assert result.intent == "probiotic_strains"
    assert result.clarify == []


# -- long messages --------------------------------------------------------------------------
def test_story_then_question_is_decided_by_the_question(reader: Reader) -> None:
    text = ("My sister swears by kimchi and kefir. I eat fermented vegetables every day now. "
            "My stomach is better but I still feel anxious. Do stool transplants help anxiety?")
    result = read(reader, text)
    assert result.read_as == "question"
    assert result.intent == "fmt"
    assert result.crisis_level is None


def test_the_question_outweighs_a_longer_story_on_another_topic(reader: Reader) -> None:
    text = ("I eat kimchi, kefir and sauerkraut every day. I avoid sugar and eat lots of fibre "
            "and vegetables. I follow a mediterranean diet for my gut bacteria. Can I book a visit?")
    whole = reader.model.probabilities(reader.encoder.encode([text]))[0]
    assert reader.model.labels[int(whole.argmax())] == "diet"  # the story alone says diet
    result = read(reader, text)
    assert result.read_as == "question"
    assert result.intent == "book_appointment"


def test_risk_sentence_inside_a_long_on_topic_message_is_crisis(reader: Reader) -> None:
    text = ("My sister keeps sending me articles about gut health and I'm not sure what to "
            "believe. Honestly, I don't want to be alive anymore. Which probiotic strain was "
            "it that helps low mood?")
    result = read(reader, text)
    assert result.crisis_level == "clear"
    assert result.intent == "crisis"
    assert result.ranking[0] == ("crisis", 1.0)


def test_risk_clause_inside_one_long_sentence_is_crisis(reader: Reader) -> None:
    text = ("I've been reading about kefir and sauerkraut for months and trying new recipes, "
            "honestly I don't want to be alive anymore, but do fermented foods help the gut?")
    result = read(reader, text)
    assert result.crisis_level == "clear"
    assert result.intent == "crisis"


def test_the_same_message_without_the_risk_is_its_topic(reader: Reader) -> None:
    text = ("I've been reading about kefir and sauerkraut for months and trying new recipes, "
            "but do fermented foods help the gut?")
    result = read(reader, text)
    assert result.crisis_level is None
    assert result.intent == "diet"


# -- follow-ups -----------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["tell me more", "what?", "can you elaborate?"])
def test_generic_follow_up_gets_the_previous_topic(reader: Reader, text: str) -> None:
    result = read(reader, text, FMT)
    assert result.intent == "fmt"
    assert result.read_as == "follow_up"
    assert result.follow_up_of == "fmt"
    assert result.as_parse()["understanding"]["context_text"] == FMT.previous_text


def test_generic_follow_up_without_a_previous_topic_is_not_a_topic(reader: Reader) -> None:
    result = read(reader, "tell me more")
    assert result.follow_up_of is None
    assert result.intent in {"out_of_scope", "nlu_fallback"}


@pytest.mark.parametrize(
    ("context", "text"),
    [(FMT, "is that proven in humans?"), (FMT, "can your clinic do that?"),
     (DIET, "and for depression?")],
)
def test_follow_up_with_a_cue_is_read_with_the_previous_question(
    reader: Reader, context: Context, text: str
) -> None:
    alone = read(reader, text)
    result = read(reader, text, context)
    assert alone.intent != context.previous_topic
    assert result.intent == context.previous_topic
    assert result.follow_up_of == context.previous_topic
    assert result.context_text == f"{context.previous_text} {text}"


def test_thanks_after_an_answer_is_thanks(reader: Reader) -> None:
    assert read(reader, "thanks, that helps", DIET).intent == "thanks"


def test_a_new_question_after_an_answer_is_the_new_topic(reader: Reader) -> None:
    result = read(reader, "which probiotic strains help with stress?", FMT)
    assert result.intent == "probiotic_strains"
    assert result.follow_up_of is None


@pytest.mark.xfail(strict=True, reason=(
    "known bug, reported in /work/notes/issue14t.md: a short everyday request far from the "
    "out_of_scope examples is read together with the previous question and answered as a "
    "follow-up of it (with the shipped model: 'can you order me a taxi' after a diet question)"))
def test_everyday_request_after_an_answer_stays_out_of_scope(reader: Reader) -> None:
    assert read(reader, "how do I fix my printer").intent == "out_of_scope"
    assert read(reader, "how do I fix my printer", DIET).intent == "out_of_scope"


# -- booking form ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["Hope Rivers", "Grace Killian", "Faith Mourning", "Hunter Cross",
                                  "Destiny Kane"])
def test_names_typed_into_the_booking_form_never_raise_a_crisis(reader: Reader, name: str) -> None:
    result = read(reader, name, Context(requested_slot="booking_name"))
    assert result.crisis_level is None
    assert result.intent != "crisis"
    assert result.as_parse()["crisis_signal"]["level"] is None


def test_a_name_in_the_form_is_an_answer_even_far_from_every_example(reader: Reader) -> None:
    result = read(reader, "Hope Rivers", Context(requested_slot="booking_name"))
    assert result.similarity < Settings().min_similarity  # no example is like this name ...
    assert result.intent == "inform"  # ... yet it is the form's answer, not out of scope


def test_the_form_slot_alone_decides_not_the_name(reader: Reader) -> None:
    # Outside the form the same words are judged by meaning (here at least a weak sign);
    # with the slot they are a name.
    outside = read(reader, "Grace Killian")
    inside = read(reader, "Grace Killian", Context(requested_slot="booking_name"))
    assert outside.crisis_level is not None
    assert inside.crisis_level is None
    assert inside.crisis_margin == outside.crisis_margin  # measured the same, only not acted on


# -- the parse result -----------------------------------------------------------------------
@pytest.mark.parametrize("text", ["", "😀😀", "x" * 3000, "<script>alert(1)</script>", "/greet"])
def test_odd_input_gives_a_complete_parse(reader: Reader, text: str) -> None:
    parse = read(reader, text).as_parse()
    assert parse["intent"]["name"]
    assert 0.0 <= parse["intent"]["confidence"] <= 1.0
    assert parse["intent_ranking"]
    assert set(parse["crisis_signal"]) == {"level", "margin", "clause_margin"}


def test_ranking_probabilities_are_renormalised_without_crisis(reader: Reader) -> None:
    result = read(reader, "what should I eat to help my gut bacteria?")
    names = [name for name, _ in result.ranking]
    assert "crisis" not in names
    assert len(names) <= Settings().ranking_length
    assert sum(p for _, p in result.ranking) <= 1.0 + 1e-6


# -- Context.from_tracker -------------------------------------------------------------------
def _tracker(*events: object) -> object:
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = Domain.from_yaml(
        "version: '3.1'\nslots:\n  requested_slot:\n    type: any\n    mappings: []\n"
        "  booking_name:\n    type: text\n    mappings: []\n")
    return DialogueStateTracker.from_events("test-user", list(events), domain.slots)


def _user(text: str, intent: str, **understanding: object) -> object:
    from rasa.shared.core.events import UserUttered

    parse = {"understanding": understanding} if understanding else None
    return UserUttered(text, {"name": intent, "confidence": 0.9}, parse_data=parse)


def test_context_from_no_tracker_is_empty() -> None:
    assert Context.from_tracker(None) == Context()


def test_context_is_the_previous_user_turn() -> None:
    from rasa.shared.core.events import ActionExecuted, BotUttered

    tracker = _tracker(ActionExecuted("action_listen"), _user("what is a fecal transplant", "fmt"),
                       BotUttered("FMT is ..."), ActionExecuted("action_listen"))
    assert Context.from_tracker(tracker) == Context("fmt", "what is a fecal transplant", None)


def test_context_of_a_chained_follow_up_keeps_the_joined_text() -> None:
    tracker = _tracker(_user("what is a fecal transplant", "fmt"),
                       _user("tell me more", "fmt", follow_up_of="fmt",
                             context_text="what is a fecal transplant tell me more"))
    assert Context.from_tracker(tracker).previous_text == "what is a fecal transplant tell me more"


def test_context_after_a_clarify_fallback_is_the_first_choice() -> None:
    tracker = _tracker(_user("probiotics", "nlu_fallback",
                             clarify=["probiotic_strains", "probiotic_evidence"]))
    assert Context.from_tracker(tracker) == Context("probiotic_strains", "probiotics", None)


def test_context_after_a_plain_fallback_or_a_greeting_has_no_topic() -> None:
    assert Context.from_tracker(_tracker(_user("hmm", "nlu_fallback"))).previous_topic is None
    # Only the last user turn counts: a greeting ends the earlier topic.
    tracker = _tracker(_user("what is a fecal transplant", "fmt"), _user("hello", "greet"))
    assert Context.from_tracker(tracker).previous_topic is None


def test_context_inside_the_booking_form_has_the_requested_slot() -> None:
    from rasa.shared.core.events import ActiveLoop, SlotSet

    tracker = _tracker(_user("book me in", "book_appointment"), ActiveLoop("booking_form"),
                       SlotSet("requested_slot", "booking_name"))
    assert Context.from_tracker(tracker) == Context(requested_slot="booking_name")
    # After the form ends the slot no longer counts, even if it was not reset.
    tracker.update(ActiveLoop(None))
    assert Context.from_tracker(tracker).requested_slot is None


def test_context_with_the_form_and_a_previous_topic() -> None:
    from rasa.shared.core.events import ActiveLoop, SlotSet

    tracker = _tracker(ActiveLoop("booking_form"), SlotSet("requested_slot", "booking_times"),
                       _user("what is a fecal transplant", "fmt"))
    assert Context.from_tracker(tracker) == Context("fmt", "what is a fecal transplant",
                                                    "booking_times")


# -- Settings -------------------------------------------------------------------------------
def test_settings_from_config_reads_and_converts_values() -> None:
    settings = Settings.from_config({
        "min_similarity": "0.6", "ambiguity_margin": 0.2, "crisis_neighbours": 5.0,
        "detail_slots": ["booking_name"], "ranking_length": None, "not_a_setting": 1,
        "name": "SemanticIntentClassifier"})
    assert settings.min_similarity == 0.6
    assert settings.ambiguity_margin == 0.2
    assert settings.crisis_neighbours == 5 and isinstance(settings.crisis_neighbours, int)
    assert settings.detail_slots == ("booking_name",)
    assert settings.ranking_length == Settings().ranking_length


def test_settings_round_trip_through_config() -> None:
    settings = Settings(min_similarity=0.42, detail_slots=("a", "b"))
    assert Settings.from_config(settings.as_config()) == settings


def test_shipped_config_values_are_read() -> None:
    config = yaml.safe_load((Path(__file__).resolve().parents[2] / "config.yml").read_text())
    [component] = [c for c in config["pipeline"] if c["name"].endswith("SemanticIntentClassifier")]
    settings = Settings.from_config(component)
    for key, value in component.items():
        if key != "name":
            expected = tuple(value) if isinstance(value, list) else value
            assert getattr(settings, key) == expected, key
