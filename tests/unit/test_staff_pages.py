"""The staff pages as a receptionist uses them: titles not ids, nothing pre-ticked, filters and
pages, the login form again after a wrong password, a topic made from a title and a clicked
sentence, the Models page saying what is live since when."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime, timedelta, timezone

from aiohttp.test_utils import TestClient

from bot.db import session_scope
from bot.staff import changes, topics
from bot.staff.project import Project
from bot.staff.store import ModelRow
from tests.unit.test_staff_core import Tracker
from tests.unit.test_staff_web import CSRF, log_in, project, run  # noqa: F401 (fixture)

DIFFERENT = [
    "where can I see a zebra", "is there parking near the clinic", "what's the weather tomorrow",
    "recommend a good pizza place", "how do I reset my router", "who won the hockey game",
    "can you spay my puppy", "what time is sunset", "translate hello into french",
    "how tall is mount everest", "best running shoes for flat feet", "tell me a joke",
    "how do I file my taxes", "what is the capital of peru", "how to fix a flat bike tire",
    "do you sell gift cards", "what's a good movie tonight", "how old is the universe",
    "can I bring my cat to work", "how do I learn guitar", "what is bitcoin worth",
    "when does the library open", "how to grow tomatoes on a balcony", "who painted the mona lisa",
]
INTERNAL = ("affirm", "deny", "inform", "greet", "goodbye", "thanks", "cancel", "help",
            "bot_challenge", "nlu_fallback", "crisis")


def test_wrong_password_shows_the_form_again_with_a_message(project: Project) -> None:  # noqa: F811
    async def scenario(client: TestClient) -> None:
        token = CSRF.search(await (await client.get("/login")).text()).group(1)  # type: ignore[union-attr]
        reply = await client.post("/login", data={"username": "sam", "password": "guess", "csrf": token})
        page = html.unescape(await reply.text())
        assert reply.status == 401
        assert "Wrong user name or password" in page and 'role="alert"' in page
        assert '<form method="post" action="/login">' in page and 'value="sam"' in page
        retry = CSRF.search(page).group(1)  # type: ignore[union-attr]
        again = await client.post("/login", data={"username": "sam", "password": "sam's passphrase",
                                                   "csrf": retry}, allow_redirects=False)
        assert again.status == 303

    run(project, scenario)


def test_inbox_offers_titles_never_internal_intents_and_ticks_nothing(project: Project) -> None:  # noqa: F811
    tracker = Tracker(project)
    for number, text in enumerate(DIFFERENT):
        tracker.user(f"s{number}", text, "out_of_scope", 0.9)
    tracker.user("k", "does kombucha help my anxiety", "diet", 0.3)

    async def scenario(client: TestClient) -> None:
        await log_in(client, "sam", "sam's passphrase")
        first = html.unescape(await (await client.get("/")).text())
        assert "What is the gut-brain axis?" in first and "Not something the assistant answers" in first
        for intent in INTERNAL:
            assert f'<option value="{intent}"' not in first, intent
        assert re.search(r'type="checkbox"[^>]*checked', first) is None, "a message is pre-ticked"
        assert "Page 1 of 2" in first and 'rel="next"' in first
        second = html.unescape(await (await client.get("/?page=2")).text())
        assert "Page 2 of 2" in second
        shown = set(re.findall(r'name="ids" value="(\d+)"', first))
        assert shown.isdisjoint(re.findall(r'name="ids" value="(\d+)"', second))
        topic = html.unescape(await (await client.get("/?topic=diet")).text())
        assert texts(topic) == ["does kombucha help my anxiety"]
        assert "the assistant guessed “Can diet change my gut bacteria?”" in topic
        words = html.unescape(await (await client.get("/?q=ZEBRA&reason=out_of_scope")).text())
        assert texts(words) == ["where can I see a zebra"]
        none = html.unescape(await (await client.get("/?since=2001-01-01&until=2001-01-02")).text())
        assert "No message matches these filters" in none

    run(project, scenario)


def texts(page: str) -> list:
    return re.findall(r'<span class="text">([^<]*)</span>', page)


def test_new_topic_id_comes_from_the_title_and_the_quote_from_a_clicked_sentence(
        project: Project) -> None:  # noqa: F811
    sentence = topics.article_sections(project)[3].sentences[0]

    async def scenario(client: TestClient) -> None:
        csrf = await log_in(client, "sam", "sam's passphrase")
        form = html.unescape(await (await client.get("/topics/new")).text())
        assert f'name="quote" value="{sentence}"' in form and "lower_snake_case" not in form
        reply = await client.post("/topics/new", allow_redirects=False, data={
            "csrf": csrf, "title": "Does kombucha help with anxiety?",
            "answer": "The article does not discuss kombucha.", "quote": sentence,
            "examples": "is kombucha good for anxiety\ncan kombucha calm me down"})
        assert reply.status == 303, await reply.text()

    run(project, scenario)
    [waiting] = changes.pending(project, changes_user())
    assert waiting.payload["topic"]["id"] == "kombucha_help_anxiety"
    assert waiting.payload["topic"]["quotes"] == [sentence]


def changes_user():  # type: ignore[no-untyped-def]
    from bot.staff import users

    return users.User("carol", users.CLINICIAN)


def test_models_page_shows_the_live_model_since_when_beside_the_candidate(project: Project) -> None:  # noqa: F811
    since = datetime(2026, 11, 30, 9, 15, tzinfo=timezone.utc)
    with session_scope(project.database_url) as session:
        session.add(ModelRow(name="model-live", path="/x", mode="full", status="live",
                             created_at=since, created_by="carol", deployed_at=since,
                             accuracy=0.912, crisis_recall=1.0, evaluation=json.dumps({})))
        session.add(ModelRow(name="model-new", path="/y", mode="finetune", status="refused",
                             created_at=since + timedelta(days=1), created_by="sam", accuracy=0.874,
                             crisis_recall=0.95, note="A crisis message was missed.",
                             evaluation=json.dumps({})))

    async def scenario(client: TestClient) -> None:
        await log_in(client, "sam", "sam's passphrase")
        page = html.unescape(await (await client.get("/models")).text())
        assert "Live now" in page and "model-live" in page
        assert "Live since 2026-11-30 09:15 UTC" in page
        assert "91.2%" in page and "87.4%" in page
        assert "Why it was not put live: A crisis message was missed." in page
        assert "takes about" in page

    run(project, scenario)
