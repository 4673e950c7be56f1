"""How a message is cut into sentences and clauses, which sentence asks, and follow-up cues."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.nlp import reading


def test_story_then_question_is_split_into_sentences() -> None:
    text = ("I've had a rough year. My gut has been a mess since the antibiotics! "
            "Anyway, do probiotics help with anxiety?")
    assert reading.sentences(text) == [
        "I've had a rough year.", "My gut has been a mess since the antibiotics!",
        "Anyway, do probiotics help with anxiety?"]


@pytest.mark.parametrize(
    "text",
    [
        "I take L. rhamnosus every day.",
        "Dr. Cook told me to ask you.",
        "Mrs. Smith and Mr. Jones said e.g. kefir or i.e. yoghurt is fine.",
        "Is B. longum better than St. John's wort vs. nothing?",
    ],
)
def test_abbreviations_do_not_end_a_sentence(text: str) -> None:
    assert reading.sentences(text) == [text]


def test_abbreviation_inside_a_longer_message() -> None:
    text = "Dr. Cook suggested L. rhamnosus GG. Does it help with mood?"
    assert reading.sentences(text) == ["Dr. Cook suggested L. rhamnosus GG.", "Does it help with mood?"]


def test_line_breaks_ellipses_and_blank_input() -> None:
    assert reading.sentences("Hi\n\nI have a question… Is kefir ok?!\nThanks") == [
        "Hi", "I have a question…", "Is kefir ok?!", "Thanks"]
    assert reading.sentences("") == []
    assert reading.sentences("  \n \n ") == []
    assert reading.sentences("no punctuation at all") == ["no punctuation at all"]


def test_very_long_message_is_read_to_its_end() -> None:
    parts = [f"Sentence number {i} is here." for i in range(300)]
    assert reading.sentences(" ".join(parts)) == parts


def test_risk_clause_is_separated_from_the_question() -> None:
    found = reading.clauses("honestly I don't want to be alive anymore, but which strain was it?")
    assert "honestly I don't want to be alive anymore" in found
    assert any("which strain was it" in c for c in found)


@pytest.mark.parametrize(
    "sentence",
    ["yes, ok", "Do probiotics help with anxiety?", "hi, thanks, bye",
     "I feel bad, so"],  # short pieces are not clauses
)
def test_a_sentence_without_two_real_clauses_gives_none(sentence: str) -> None:
    assert reading.clauses(sentence) == []


def test_clauses_split_on_conjunctions_and_dashes() -> None:
    assert reading.clauses("my stomach hurts a lot because I ate too much - what helps my gut?") == [
        "my stomach hurts a lot", "I ate too much", "what helps my gut?"]


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (["I have had IBS for years.", "Does kefir help?", "Thanks a lot."], "Does kefir help?"),
        (["What is the gut-brain axis?", "And how do probiotics fit in?"],
         "And how do probiotics fit in?"),
        (["My doctor suggested it.", "how long until it works"], "how long until it works"),
        (["I have had IBS for years.", "It is awful."], None),
        ([], None),
    ],
)
def test_question_sentence_is_the_last_that_asks(parts: list[str], expected: str | None) -> None:
    assert reading.question_sentence(parts) == expected


@pytest.mark.parametrize(
    "text",
    ["which strains?", "is that proven in humans?", "can your clinic do that?",
     "and for depression?", "what about kids", "how long does it take", "any side effects?",
     "Is THAT safe?"],
)
def test_follow_up_cues(text: str) -> None:
    assert reading.load_cues().has_cue(text)


@pytest.mark.parametrize(
    "text",
    ["do probiotics help with anxiety?", "book an appointment", "anything else", "sandwich", ""],
)
def test_messages_without_a_follow_up_cue(text: str) -> None:
    assert not reading.load_cues().has_cue(text)


def test_generic_follow_ups_are_loaded_from_the_data_file() -> None:
    cues = reading.load_cues()
    assert "tell me more" in cues.generic
    assert "what?" in cues.generic
    assert "which" in cues.cue_words and "can your clinic" in cues.cue_starts


def test_cues_file_can_be_replaced_and_may_be_empty(tmp_path: Path) -> None:
    path = tmp_path / "cues.yml"
    path.write_text("generic: [more]\ncue_words: [Those]\ncue_starts: [What About]\n", encoding="utf-8")
    cues = reading.load_cues(path)
    assert cues.generic == ("more",)
    assert cues.has_cue("those ones") and cues.has_cue("what about kids")
    assert not cues.has_cue("which strains?")
    empty = tmp_path / "empty.yml"
    empty.write_text("", encoding="utf-8")
    assert not reading.load_cues(empty).has_cue("which strains?")
