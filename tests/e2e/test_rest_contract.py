"""Over the real REST channel: every topic answers with the reply contract; bad input is safe."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from bot.knowledge import store
from tests.e2e.conftest import Assistant

ARTICLE = store.normalise_whitespace(store.read_article())
TOPICS = store.load_topics_file()


def assert_knowledge_contract(messages: list, topic_id: str) -> None:
    custom = Assistant.custom(messages)
    assert custom["topic"] == topic_id, Assistant.text(messages)
    citations = custom["citations"]
    article = [c for c in citations if c["kind"] == "article"]
    paper = [c for c in citations if c["kind"] == "paper"]
    assert article and paper
    for citation in article:
        assert store.normalise_whitespace(citation["quote"]) in ARTICLE
    assert article[0]["date"] == "2025-11-24" and article[0]["url"].startswith("http")
    assert paper[0]["doi"] == "10.3390/nu14102081"
    assert "Source:" in Assistant.text(messages)


@pytest.mark.parametrize("topic", TOPICS, ids=[t.id for t in TOPICS])
def test_each_topic_is_answered_with_citations(assistant: Assistant, topic: store.Topic) -> None:
    messages = assistant.send(f"topic-{topic.id}", topic.title)
    assert_knowledge_contract(messages, topic.id)


def test_a_button_payload_answers_its_topic(assistant: Assistant) -> None:
    messages = assistant.send("button-user", "/scfa")
    assert_knowledge_contract(messages, "scfa")
    payloads = [b["payload"] for m in messages for b in m.get("buttons", [])]
    assert "/book_appointment" in payloads


def test_greeting_says_what_the_assistant_is(assistant: Assistant) -> None:
    messages = assistant.send("greeter", "hello there")
    assert Assistant.topic(messages) == "greet"
    text = Assistant.text(messages).lower()
    assert "automated assistant" in text and "not medical advice" in text and "911" in text


@pytest.mark.parametrize("text", ["what can you do?", "What do you do"])
def test_small_talk_of_stop_words_only_is_answered(assistant: Assistant, text: str) -> None:
    # No content word to judge by: the scope gate leaves small talk to the classifier.
    assert Assistant.topic(assistant.send("small-talk", text)) == "help"


def test_unrelated_question_is_out_of_scope(assistant: Assistant) -> None:
    messages = assistant.send("oos", "what's the weather going to be in Calgary tomorrow?")
    assert Assistant.topic(messages) == "out_of_scope"
    assert "I can only help" in Assistant.text(messages)


@pytest.mark.parametrize(
    "text",
    ["how long should I boil an egg?", "can you recommend a plumber in Red Deer",
     "how many ounces are in a pound", "which planet has the most moons"],
)
def test_everyday_questions_get_the_honest_reply(assistant: Assistant, text: str) -> None:
    # None of these shares a word with any topic: the scope gate answers them whatever the
    # classifier guessed, with suggestions instead of a confident wrong answer.
    messages = assistant.send("everyday", text)
    assert Assistant.topic(messages) == "out_of_scope", Assistant.text(messages)
    assert "I can only help" in Assistant.text(messages)
    payloads = [b["payload"] for m in messages for b in m.get("buttons", [])]
    assert "/book_appointment" in payloads


def test_crisis_gets_resources(assistant: Assistant) -> None:
    messages = assistant.send("crisis-user", "i don't want to live anymore")
    custom = Assistant.custom(messages)
    assert custom["topic"] == "crisis"
    text = Assistant.text(messages)
    assert "988" in text and "911" in text and "1-877-303-2642" in text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "x" * 20_000,
        "¿Cuál es el horario de la clínica?",
        "🤢🧠❓",
        "<script>alert(1)</script><b>hi</b>",
        "{clinic_phone} {{7*7}} ${jndi:ldap://x}",
        "'; DROP TABLE events; --",
        "/book_appointment{\"booking_name\": \"x\"}@1.0",
        "/restart",
    ],
    ids=["empty", "spaces", "20k", "spanish", "emoji", "html", "template", "sql", "payload",
         "restart"],
)
def test_odd_input_gets_a_polite_reply_with_a_topic(assistant: Assistant, text: str) -> None:
    messages = assistant.send("odd-input", text)
    assert Assistant.topic(messages)
    assert Assistant.text(messages).strip()
    # the server keeps serving
    assert Assistant.topic(assistant.send("after-odd-input", "what is leaky gut?")) == (
        "inflammation_leaky_gut"
    )


def test_malformed_request_gets_a_clear_400(assistant: Assistant) -> None:
    request = urllib.request.Request(
        assistant.config.rest_url, data=b"{not json", headers={"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310
    assert error.value.code == 400
    assert "sender" in json.loads(error.value.read())["error"]
