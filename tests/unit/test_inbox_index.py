"""The inbox reads its own index: grouped by meaning, filtered, paged, kept in step with the log."""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import delete

from bot.db import get_engine
from bot.staff import inbox
from bot.staff.project import Project
from tests.unit.test_staff_core import STAFF, Tracker, project  # noqa: F401 (fixture)


def test_similar_messages_group_by_meaning_not_by_shared_words(project: Project) -> None:  # noqa: F811
    tracker = Tracker(project)
    visit = tracker.user("a", "how much does a visit cost?", "out_of_scope", 0.4)
    spay = tracker.user("b", "how much does it cost to spay a puppy", "out_of_scope", 0.4)
    price = tracker.user("c", "what is the price of a visit?", "out_of_scope", 0.4)
    groups = inbox.inbox(project, STAFF)
    ids = sorted(sorted(g.ids) for g in groups)
    assert [spay] in ids, "the puppy question is grouped with the clinic's fees"
    assert sorted([visit, price]) in ids


def test_filters_by_reason_topic_date_and_words_and_pages(project: Project) -> None:  # noqa: F811
    tracker = Tracker(project)
    tracker.user("a", "is kefir good for my mood", "diet", 0.4)
    tracker.user("b", "what's the weather in calgary", "out_of_scope", 0.9)
    tracker.user("c", "tell me a joke about bacteria", "nlu_fallback", 0.5,
                 [{"name": "nlu_fallback", "confidence": 0.5}, {"name": "microbiome_facts",
                                                              "confidence": 0.3}])
    reason = inbox.inbox_page(project, STAFF, inbox.InboxFilter(reason="out_of_scope"))
    assert [m.text for g in reason.groups for m in g.messages] == ["what's the weather in calgary"]
    topic = inbox.inbox_page(project, STAFF, inbox.InboxFilter(topic="diet"))
    assert [m.text for g in topic.groups for m in g.messages] == ["is kefir good for my mood"]
    words = inbox.inbox_page(project, STAFF, inbox.InboxFilter(search="JOKE"))
    assert [m.text for g in words.groups for m in g.messages] == ["tell me a joke about bacteria"]
    today = datetime.now(timezone.utc).date()
    assert inbox.inbox_page(project, STAFF, inbox.InboxFilter(since=today)).total_groups == 3
    assert inbox.inbox_page(project, STAFF, inbox.InboxFilter(until=date(2020, 1, 1))).groups == []
    first = inbox.inbox_page(project, STAFF, per_page=2)
    second = inbox.inbox_page(project, STAFF, page=2, per_page=2)
    assert (first.pages, len(first.groups), len(second.groups)) == (2, 2, 1)
    assert not {m.event_id for g in first.groups for m in g.messages} & {
        m.event_id for g in second.groups for m in g.messages}


def test_index_follows_new_erased_and_later_masked_messages(project: Project) -> None:  # noqa: F811
    tracker = Tracker(project)
    tracker.user("p", "jane doe here, does fibre help my mood", "diet", 0.4)
    [group] = inbox.inbox(project, STAFF)
    assert group.newest.text.startswith("jane doe here")  # nothing says it is a name yet
    tracker.slot("p", "booking_name", "Jane Doe")
    tracker.user("q", "does sleep matter for the gut", "diet", 0.3)
    texts = {m.text for g in inbox.inbox(project, STAFF) for m in g.messages}
    assert texts == {"[name] here, does fibre help my mood", "does sleep matter for the gut"}
    with get_engine(project.tracker_url).begin() as connection:  # the person asked to be erased
        connection.execute(delete(inbox.EVENTS).where(inbox.EVENTS.c.sender_id == "p"))
    texts = {m.text for g in inbox.inbox(project, STAFF) for m in g.messages}
    assert texts == {"does sleep matter for the gut"}


def test_clarify_is_a_reason(project: Project) -> None:  # noqa: F811
    tracker = Tracker(project)
    tracker.user("k", "gut stress thing", "stress_harms_gut", 0.9)
    tracker._add("k", "action", {"name": "action_clarify"})
    from sqlalchemy import update

    with get_engine(project.tracker_url).begin() as connection:
        connection.execute(update(inbox.EVENTS).where(inbox.EVENTS.c.type_name == "action")
                           .values(action_name="action_clarify"))
    [group] = inbox.inbox_page(project, STAFF, inbox.InboxFilter(reason="clarify")).groups
    assert group.reasons == [inbox.REASON_CLARIFY]
