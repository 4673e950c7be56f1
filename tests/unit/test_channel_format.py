"""What a person sees on each messaging channel: numbered options, sources, split texts."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.channels import format as fmt
from bot.channels.guard import unavailable_reply
from bot.reply import Reply, to_message

DOI = "https://doi.org/10.3390/nu14102081"
CITATIONS: List[Dict[str, Any]] = [
    {"kind": "article", "title": "Gut-Brain Axis Connection with Anxiety and Depression Links",
     "publisher": "Healthflow Naturopathic", "date": "2025-11-24",
     "url": "https://clinic.example/article", "quote": "SCFAs are made by gut bacteria."},
    {"kind": "paper", "authors": "Zhu, F., Tu, H., & Chen, T.", "year": 2022,
     "title": "The Microbiota-Gut-Brain Axis in Depression", "journal": "Nutrients",
     "doi": "10.3390/nu14102081", "url": DOI},
]
BUTTONS = [
    {"title": "Can diet change my gut bacteria?", "payload": "/diet"},
    {"title": "What are prebiotics?", "payload": "/prebiotics"},
    {"title": "Book a consultation", "payload": "/book_appointment"},
]
RESOURCES = [
    {"name": "988 Suicide Crisis Helpline", "phone": "988", "when": "Call or text 988."},
    {"name": "Emergency services", "phone": "911", "when": "For an emergency."},
    {"name": "Alberta Mental Health Help Line", "phone": "1-877-303-2642", "when": "24/7."},
]


def sent(reply: Reply) -> Dict[str, Any]:
    """The bot message an action sends for ``reply``, as the channel's collector gets it."""
    message = to_message(reply)
    return {"text": message["text"], "buttons": message["buttons"],
            "custom": message["json_message"]}


def answer_turn(text: str = "Butyrate is a short-chain fatty acid.",
                source: str = "") -> List[Dict[str, Any]]:
    """A knowledge answer as the actions send it: one message, text, buttons and custom."""
    return [sent(Reply.of("scfa", text, source=source, citations=CITATIONS, buttons=BUTTONS))]


def test_sms_numbers_the_options_and_adds_the_source_with_the_doi_link() -> None:
    replies = fmt.render_turn(answer_turn(), fmt.PROFILES["sms"])
    assert len(replies) == 1
    text = replies[0].text
    assert text.startswith("Butyrate is a short-chain fatty acid.")
    assert f"Source: Healthflow Naturopathic (2025), citing Zhu, Tu & Chen, Nutrients 2022: {DOI}" in text
    assert text.endswith("Reply with a number:\n1. Can diet change my gut bacteria?\n"
                         "2. What are prebiotics?\n3. Book a consultation")
    assert replies[0].buttons == ()
    assert "topic" not in text and "citations" not in text  # the custom object is never sent raw


def test_a_source_line_that_already_has_the_doi_link_is_kept_as_it_is() -> None:
    source = f"Source: the clinic's article, citing Zhu et al. ({DOI})."
    original = f"Butyrate is a fatty acid.\n{source}"
    turn = answer_turn("Butyrate is a fatty acid.", source)
    assert turn[0]["text"] == original  # what a text-only (REST) client reads
    text = fmt.render_turn(turn, fmt.PROFILES["whatsapp"])[0].text
    assert text.startswith(original)
    assert text.count(DOI) == 1


def test_a_source_line_without_the_link_is_replaced_by_one_with_it() -> None:
    turn = answer_turn("Butyrate is a fatty acid.", "Source: the clinic's article.")
    text = fmt.render_turn(turn, fmt.PROFILES["telegram"])[0].text
    assert "the clinic's article." not in text
    assert text.startswith("Butyrate is a fatty acid.\nSource: Healthflow Naturopathic")
    assert text.rstrip().endswith(DOI)


def test_telegram_and_slack_keep_real_buttons() -> None:
    for name in ("telegram", "slack"):
        reply = fmt.render_turn(answer_turn(), fmt.PROFILES[name])[0]
        assert "Reply with a number" not in reply.text
        assert [(b.title, b.payload) for b in reply.buttons] == [
            (b["title"], b["payload"]) for b in BUTTONS
        ]


def test_messenger_quick_replies_keep_titles_that_fit() -> None:
    short = [{"title": "Yes, I agree", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
    reply = fmt.render_turn([{"text": "Do you agree?", "buttons": short}],
                            fmt.PROFILES["messenger"])[0]
    assert reply.text == "Do you agree?"
    assert [b.title for b in reply.buttons] == ["Yes, I agree", "No"]


def test_messenger_numbers_options_whose_titles_are_too_long_for_quick_replies() -> None:
    reply = fmt.render_turn(answer_turn(), fmt.PROFILES["messenger"])[0]
    assert "1. Can diet change my gut bacteria?" in reply.text
    assert [(b.title, b.payload) for b in reply.buttons] == [
        ("1", "/diet"), ("2", "/prebiotics"), ("3", "/book_appointment")
    ]


def test_telegram_falls_back_to_numbers_when_a_payload_is_over_64_bytes() -> None:
    buttons = [{"title": "Long", "payload": "/inform" + "x" * 80}]
    reply = fmt.render_turn([{"text": "Pick", "buttons": buttons}], fmt.PROFILES["telegram"])[0]
    assert "1. Long" in reply.text and reply.buttons == ()


def test_numbers_continue_across_the_messages_of_a_turn() -> None:
    turn = answer_turn() + [  # a domain response: text, buttons and custom in one message
        {"text": "Do you agree?", "buttons": [{"title": "Yes", "payload": "/affirm"},
                                               {"title": "No", "payload": "/deny"}],
         "custom": {"topic": "booking", "step": "booking_consent"}},
    ]
    replies = fmt.render_turn(turn, fmt.PROFILES["sms"])
    assert "4. Yes\n5. No" in replies[1].text
    options = fmt.numbered_options(turn, fmt.PROFILES["sms"])
    assert [(o.number, o.payload) for o in options] == [
        (1, "/diet"), (2, "/prebiotics"), (3, "/book_appointment"), (4, "/affirm"), (5, "/deny")
    ]


@pytest.mark.parametrize("typed", ["2", " 2 ", "2.", "2)", "#2", "option 2", "No. 2"])
def test_a_number_picks_that_option(typed: str) -> None:
    options = fmt.numbered_options(answer_turn(), fmt.PROFILES["sms"])
    picked = fmt.pick_option(typed, options)
    assert picked is not None and picked.payload == "/prebiotics"


@pytest.mark.parametrize("typed", ["7", "0", "2 please", "22 years", "two", "", "4035551234"])
def test_other_replies_pick_nothing(typed: str) -> None:
    options = fmt.numbered_options(answer_turn(), fmt.PROFILES["sms"])
    assert fmt.pick_option(typed, options) is None


def test_no_numbers_are_remembered_where_the_channel_showed_real_buttons() -> None:
    assert fmt.numbered_options(answer_turn(), fmt.PROFILES["telegram"]) == []


def test_the_previous_turn_is_read_back_from_tracker_events() -> None:
    answer = sent(Reply.of("scfa", "Butyrate...", citations=CITATIONS, buttons=BUTTONS))
    events = [
        {"event": "user", "text": "hi"},
        {"event": "bot", "text": "Hello", "data": {"buttons": [BUTTONS[0]]}},
        {"event": "user", "text": "what's butyrate?"},
        {"event": "action", "name": "action_answer"},
        {"event": "bot", "text": answer["text"],
         "data": {"buttons": answer["buttons"], "custom": answer["custom"]}},
        {"event": "action", "name": "action_listen"},
    ]
    messages = fmt.bot_messages_of_last_turn(events)
    assert [m.get("text") for m in messages] == ["Butyrate..."]
    option = fmt.pick_option("2", fmt.numbered_options(messages, fmt.PROFILES["sms"]))
    assert option is not None and option.payload == "/prebiotics"


def test_crisis_resources_are_listed_from_the_reply_each_once() -> None:
    turn = [sent(Reply.of("crisis", "Please reach out:", "Take care.", resources=RESOURCES))]
    text = fmt.render_turn(turn, fmt.PROFILES["sms"])[0].text
    assert "988" in text and "911" in text and "1-877-303-2642" in text
    assert text.count("988 Suicide Crisis Helpline") == 1
    assert text.startswith("Please reach out:\n- 988 Suicide Crisis Helpline: 988.")
    assert text.endswith("Take care.")
    assert text == turn[0]["text"]  # the same as a text-only client reads


def test_a_custom_object_alone_still_gives_the_person_a_text() -> None:
    replies = fmt.render_turn([{"custom": {"topic": "crisis", "resources": RESOURCES}}],
                              fmt.PROFILES["messenger"])
    assert replies and "1-877-303-2642" in replies[0].text


def test_the_apology_reaches_every_channel() -> None:
    for profile in fmt.PROFILES.values():
        replies = fmt.render_turn([unavailable_reply()], profile)
        assert len(replies) == 1 and "Sorry" in replies[0].text


def test_a_long_answer_is_split_at_sentence_ends_within_the_sms_limit() -> None:
    sentence = "The gut and the brain talk to each other through the vagus nerve. "
    text = sentence * 60  # about 4,000 characters
    replies = fmt.render_turn(answer_turn(text), fmt.PROFILES["sms"])
    assert len(replies) >= 3
    for reply in replies:
        assert fmt.measure(reply.text) <= 1600
    for reply in replies[:-1]:
        assert reply.text.endswith("vagus nerve.")
    assert replies[-1].text.endswith("3. Book a consultation")
    assert DOI in "".join(r.text for r in replies)


def test_buttons_go_with_the_last_part_of_a_split_answer() -> None:
    text = "A sentence about microbes. " * 200
    replies = fmt.render_turn(answer_turn(text), fmt.PROFILES["messenger"])
    assert all(fmt.measure(r.text) <= 2000 for r in replies)
    assert all(r.buttons == () for r in replies[:-1]) and replies[-1].buttons


def test_split_prefers_lines_and_sentences_then_words_then_characters() -> None:
    assert fmt.split_text("One. Two.\nThree.", 10) == ["One. Two.", "Three."]
    assert fmt.split_text("aaaa bbbb cccc", 9) == ["aaaa bbbb", "cccc"]
    assert fmt.split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_split_counts_emoji_as_two_units_and_never_breaks_one() -> None:
    parts = fmt.split_text("🧠" * 7, 4)
    assert parts == ["🧠🧠", "🧠🧠", "🧠🧠", "🧠"]


@given(st.text(min_size=1, max_size=3000), st.integers(min_value=2, max_value=400))
def test_split_keeps_every_word_and_every_limit(text: str, limit: int) -> None:
    parts = fmt.split_text(text, limit)
    assert all(0 < fmt.measure(p) <= limit for p in parts)
    assert "".join("".join(parts).split()) == "".join(text.split())


def test_short_authors() -> None:
    assert fmt.short_authors("Zhu, F., Tu, H., & Chen, T.") == "Zhu, Tu & Chen"
    assert fmt.short_authors("Smith, J.") == "Smith"
    assert fmt.short_authors("WHO") == "WHO"


def test_a_clinic_citation_gives_the_clinic_page_as_source() -> None:
    from bot.channels.format import source_line

    clinic = {"kind": "clinic", "title": "Healthflow Naturopathic", "url": "https://c.test/fees"}
    assert source_line([clinic]) == "Source: Healthflow Naturopathic, https://c.test/fees"
