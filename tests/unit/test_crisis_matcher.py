"""The crisis_matcher spaCy component, on the blank-English pipeline (no downloads).

Policy under test: any mention of suicide (or overdose, or an emergency) is flagged, even in a
research question: better safe than sorry. Idioms cancel only the crisis words they overlap.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import spacy
from spacy.language import Language

from bot.nlp.crisis_matcher import CrisisMatcher, PatternFileError, fold, parse_phrase
from bot.nlp.pipeline import build_pipeline

CRISIS_EN = [
    ("I want to kill myself", "suicide"),
    ("i want to kill myself", "suicide"),
    ("I WANT TO KILL MYSELF", "suicide"),
    ("Killing myself tonight", "suicide"),
    ("im going to kill myself", "suicide"),
    ("I don't want to live anymore", "suicide"),
    ("i dont want to live anymore", "suicide"),
    ("I don\u2019t want to be here anymore", "suicide"),
    ("i dont wanna wake up tomorrow", "suicide"),
    ("I want to die", "suicide"),
    ("i wanna die", "suicide"),
    ("I've been thinking about suicide", "suicide"),
    ("I feel suicidal", "suicide"),
    ("I want to end my life", "suicide"),
    ("im going to end it all", "suicide"),
    ("everyone would be better off without me", "suicide"),
    ("Id be better off dead", "suicide"),
    ("I wish I was dead", "suicide"),
    ("life isn't worth living", "suicide"),
    ("I'm going to jump off a bridge", "suicide"),
    ("kms", "suicide"),
    ("does suicide risk relate to gut health research?", "suicide"),
    ("took too many of the tablets", "overdose"),
    ("I've been hoarding my sleeping pills", "overdose"),
    ("im stockpiling meds", "overdose"),
    ("I'm saving up my pills", "overdose"),
    ("took 15 tylenol", "overdose"),
    ("my toddler swallowed a laundry pod", "overdose"),
    ("he drank some bleach", "overdose"),
    ("sewer slide", "suicide"),
    ("sui cide", "suicide"),
    ("I'm planning my own funeral", "suicide"),
    ("my teenager is talking about killing himself", "suicide"),
    ("my daughter told me she wants to hurt herself", "self_harm"),
    ("my roommate keeps talking about hurting himself", "self_harm"),
    ("my son has been cutting himself", "self_harm"),
    ("a friend of mine threatened to harm herself", "self_harm"),
    ("they said they think about hurting themselves", "self_harm"),
    ("is there a real person? i dont think i can keep myself safe tonight", "suicide"),
    ("I'm not safe around myself right now", "suicide"),
    ("how many of my antidepressants would it take to not wake up", "suicide"),
    ("i want to take my sleeping pills and never wake up", "suicide"),
    ("i'm standing on the roof right now", "suicide"),
    ("standing at the edge of the bridge", "suicide"),
    ("i've given up on life", "suicide"),
    ("i cant take it anymore", "suicide"),
    ("she took all her pills", "overdose"),
    ("my boyfriend choked me last night", "harm_others"),
    ("he beats me when he drinks", "harm_others"),
    ("what's the quickest way to die", "suicide"),
    ("i've been saving my pills for a while now", "overdose"),
    ("i don't see any way out of this", "suicide"),
    ("there's no hope left for me", "suicide"),
    ("i'm sitting in my car with the engine running in the garage", "suicide"),
    ("how do i die without it hurting", "suicide"),
    ("I want to crash my car on purpose", "suicide"),
    ("crushing pain in my chest", "emergency"),
    ("I'm not suicidal, just asking", "suicide"),
    ("I keep hurting myself", "self_harm"),
    ("I cut myself last night", "self_harm"),
    ("ive been self harming again", "self_harm"),
    ("self-harm is back", "self_harm"),
    ("I took too many pills", "overdose"),
    ("i took all my pills", "overdose"),
    ("I overdosed on my meds", "overdose"),
    ("I think I OD'd", "overdose"),
    ("I want to hurt someone", "harm_others"),
    ("I'm going to kill him", "harm_others"),
    ("im gonna kill her", "harm_others"),
    ("I have thoughts of hurting my baby", "harm_others"),
    ("I have chest pain", "emergency"),
    ("my dad can't breathe", "emergency"),
    ("she cant breathe", "emergency"),
    ("he's not breathing", "emergency"),
    ("my friend is unconscious", "emergency"),
    ("I think I'm having a stroke", "emergency"),
    ("she is having a seizure", "emergency"),
    ("I'm bleeding heavily", "emergency"),
]

CRISIS_FR = [
    ("je me scarifie depuis des semaines", "self_harm"),
    ("Je veux me suicider", "suicide"),
    ("j'ai envie de mourir", "suicide"),
    ("Je veux mourir", "suicide"),
    ("je vais me tuer", "suicide"),
    ("Je pense \u00e0 mettre fin \u00e0 mes jours", "suicide"),
    ("mettre fin a mes jours", "suicide"),
    ("je veux en finir", "suicide"),
    ("je ne veux plus vivre", "suicide"),
    ("j'ai envie de me faire du mal", "self_harm"),
    ("J'ai fait une overdose", "overdose"),
    ("J'ai pris trop de m\u00e9dicaments", "overdose"),
    ("Suicide", "suicide"),
]

# (text, an idiom is expected to match)
NOT_CRISIS = [
    ("this IBS is killing me", True),
    ("my back pain is killing me", True),
    ("I'm dying to know what butyrate is", True),
    ("stress kills gut bacteria?", True),
    ("do antibiotics kill off the good bacteria?", True),
    ("I'm scared to death of needles", True),
    ("I'd kill for a good night's sleep", True),
    ("I could murder a pizza right now", True),
    ("this kombucha is to die for", True),
    ("I'm bored to death waiting for my appointment", True),
    ("I'm dead tired after work", True),
    ("my doctor is drop dead gorgeous", True),
    ("how do I keep myself safe from food poisoning", False),
    ("how do gut bacteria die off after antibiotics", False),
    ("the flu hit me hard last week", False),
    ("standing on my feet all day hurts my back", False),
    ("do probiotics wake up the gut after antibiotics", False),
    ("I need to cut myself some slack with my diet", True),
    ("I'm laughing so hard I can't breathe", True),
    ("Tu vas me tuer de rire", True),
    ("I don't want to die from this disease", True),
    ("what does butyrate do for the brain?", False),
    ("can probiotics harm my baby?", False),
    ("does stomach acid kill them?", False),
    ("I want to cut out sugar", False),
    ("can I take all my meds with probiotics?", False),
    ("I can't wake up in the morning", False),
    ("Je veux en savoir plus sur le butyrate", False),
    ("how do I save money on my meds", False),
    ("I took 2 tylenol for my headache", False),
    ("does bleach kill gut bacteria?", True),
    ("I'm planning a funeral for my grandmother", False),
    ("my son hurt himself skiing, is that why his stomach is upset", False),
    ("can my dog hurt himself eating fermented food", False),
    ("I store my probiotics in the fridge", False),
    ("hello", False),
]


@pytest.fixture(scope="module")
def nlp() -> Language:
    """The project's pipeline, built in memory."""
    return build_pipeline()


@pytest.mark.parametrize(("text", "kind"), CRISIS_EN)
def test_english_crisis_phrases_are_flagged(nlp: Language, text: str, kind: str) -> None:
    doc = nlp(text)
    assert doc._.crisis is True
    assert doc._.crisis_reason == kind


@pytest.mark.parametrize(("text", "kind"), CRISIS_FR)
def test_french_crisis_phrases_are_flagged(nlp: Language, text: str, kind: str) -> None:
    doc = nlp(text)
    assert doc._.crisis is True
    assert doc._.crisis_reason == kind


@pytest.mark.parametrize(("text", "idiom"), NOT_CRISIS)
def test_idioms_and_benign_messages_are_not_flagged(nlp: Language, text: str, idiom: bool) -> None:
    doc = nlp(text)
    assert doc._.crisis is False
    assert doc._.crisis_reason is None
    assert doc._.crisis_idiom is idiom


def test_counts_meet_the_brief() -> None:
    assert len(CRISIS_EN) >= 25
    assert len(CRISIS_FR) >= 6
    assert len(NOT_CRISIS) >= 15


def test_idiom_cancels_only_the_words_it_overlaps(nlp: Language) -> None:
    doc = nlp("this IBS is killing me and I want to kill myself")
    assert doc._.crisis is True
    assert doc._.crisis_reason == "suicide"
    assert doc._.crisis_idiom is True


def test_first_listed_kind_wins(nlp: Language) -> None:
    doc = nlp("I want to kill myself, I took all my pills")
    assert doc._.crisis_reason == "overdose"


def test_french_text_survives_the_english_tokenizer_and_lemmatizer(nlp: Language) -> None:
    doc = nlp("Je pense \u00e0 mettre fin \u00e0 mes jours")
    assert [t.text for t in doc] == ["Je", "pense", "\u00e0", "mettre", "fin", "\u00e0", "mes", "jours"]
    assert all(t.lemma_ for t in doc)
    assert fold("\u00c0 MES") == "a mes"


def test_empty_and_whitespace_texts(nlp: Language) -> None:
    for text in ["", " ", "\n\t"]:
        doc = nlp(text)
        assert doc._.crisis is False
        assert doc._.crisis_reason is None


def test_patterns_path_setting(tmp_path: Path) -> None:
    patterns = tmp_path / "patterns.yml"
    patterns.write_text(
        "crisis:\n  emergency:\n    - purple alarm\n    - lower: code|codes rouge\n"
        "not_crisis:\n  - purple alarm clock\n",
        encoding="utf-8",
    )
    nlp = spacy.blank("en")
    nlp.add_pipe("crisis_matcher", config={"patterns_path": str(patterns)})
    assert nlp("Purple alarms!")._.crisis_reason == "emergency"
    assert nlp("CODE ROUGE")._.crisis is True
    assert nlp("my purple alarm clock")._.crisis is False
    assert nlp("I want to kill myself")._.crisis is False


def test_pattern_syntax_errors_are_reported() -> None:
    nlp = spacy.blank("en")

    def tokenize(text: str) -> list[str]:
        return [t.text for t in nlp.make_doc(text)]

    phrase = parse_phrase({"lower": "don't want|wanna to? _ live"}, tokenize)
    assert phrase.attr == "LOWER"
    assert [s.options for s in phrase.slots] == [("do",), ("n't",), ("want", "wanna"), ("to",), (), ("live",)]
    with pytest.raises(PatternFileError):
        parse_phrase("kill|don't myself", tokenize)
    with pytest.raises(PatternFileError):
        parse_phrase("to? _?", tokenize)
    with pytest.raises(PatternFileError):
        parse_phrase({"regex": "x"}, tokenize)
    with pytest.raises(PatternFileError):
        parse_phrase("", tokenize)


def test_component_is_the_pipeline_crisis_matcher(nlp: Language) -> None:
    component = nlp.get_pipe("crisis_matcher")
    assert isinstance(component, CrisisMatcher)
    assert component.lemma("KILLING") == "kill"
    assert component.lemma("dying") == "die"
