"""Similar messages are grouped, so staff label a question once."""

from __future__ import annotations

from bot.staff.grouping import group_similar, normalise, similarity


def test_normalising_ignores_case_punctuation_and_accents() -> None:
    assert normalise("Does KOMBUCHA help?!  Café") == normalise("does kombucha help cafe")


def test_rewordings_with_the_same_content_words_are_similar() -> None:
    assert similarity("does kombucha help with anxiety?", "Does kombucha help anxiety") >= 0.5
    assert similarity("does kombucha help with anxiety", "what is the weather in Calgary") < 0.2


def test_groups_keep_newest_first_and_separate_different_questions() -> None:
    texts = [
        "does kombucha help with anxiety",
        "what's the weather tomorrow",
        "Does kombucha help anxiety?",
        "kombucha for anxiety, does it help",
        "weather tomorrow?",
    ]
    groups = group_similar(texts, lambda t: t, threshold=0.5)
    assert [g.items for g in groups] == [
        ["does kombucha help with anxiety", "Does kombucha help anxiety?",
         "kombucha for anxiety, does it help"],
        ["what's the weather tomorrow", "weather tomorrow?"],
    ]
    assert groups[0].representative == "does kombucha help with anxiety"
