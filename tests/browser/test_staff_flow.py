"""The staff workspace in real Chromium, as a receptionist and a clinician use it.

On a copy of the project with real servers (tests/e2e/test_staff_loop.py's ``stack``): a
wrong password, log in, label a message (its group is not pre-ticked), propose a topic by
clicking an article sentence, a clinician approves it, retrain and see the new model live,
open the dashboard and see its charts, change a booking's status (when the front-desk page
is there); and refuse a request that is unauthenticated or cross-site. Screenshots go to
var/screenshots/staff-*.png.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Tuple

import pytest

from bot.staff.project import Project
from tests.browser.conftest import PageWatch
from tests.e2e.conftest import Assistant
from tests.e2e.test_staff_loop import PASSWORDS, QUESTION, RIGHT_TOPIC, stack  # noqa: F401 (fixture)

pytest.importorskip("playwright")
from playwright.sync_api import expect  # noqa: E402

RETRAIN_TIMEOUT_MS = 15 * 60 * 1000
DIET_TITLE = "Can diet change my gut bacteria?"


def log_in(page: Any, base: str, username: str) -> None:
    page.goto(base + "/")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORDS[username])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()


EXPECTED_REFUSAL = re.compile(r"^Failed to load resource: .* status of 40[13]\b")


def no_script_errors(watch: PageWatch) -> None:
    """No dialog, no script error; the browser's note on the refused wrong password is expected."""
    assert watch.dialogs == []
    assert [e for e in watch.errors if not EXPECTED_REFUSAL.match(e)] == []


def test_staff_flow_in_the_browser(stack: Tuple[Project, Assistant, str], new_page: Any,  # noqa: F811
                                   screenshots: Path) -> None:
    project, assistant, base = stack
    before = Assistant.topic(assistant.send("flow-a", QUESTION))
    assert before != RIGHT_TOPIC, "the base model already answers this; pick another question"
    page, watch = new_page(width=1280, height=800)

    # a wrong password: the form again, with a message
    page.goto(base + "/login")
    page.get_by_label("User name").fill("sam")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
    expect(page.get_by_label("User name")).to_have_value("sam")
    page.screenshot(path=str(screenshots / "staff-login-wrong-password.png"))

    # label: the group is not pre-ticked; titles, not ids
    log_in(page, base, "sam")
    group = page.locator("form.group").filter(has_text=QUESTION).first
    box = group.get_by_role("checkbox").first
    expect(box).not_to_be_checked()
    options = group.locator("select[name=topic] option").all_inner_texts()
    assert any(o.startswith(DIET_TITLE) for o in options)
    assert not any(o.strip() in ("affirm", "inform", "deny", "greet") for o in options)
    page.screenshot(path=str(screenshots / "staff-inbox.png"), full_page=True)
    box.check()
    label = next(o for o in options if o.startswith(DIET_TITLE))
    group.locator("select[name=topic]").select_option(label=label)
    group.get_by_role("button", name="Label the ticked messages").click()
    expect(page.get_by_role("status").first).to_contain_text("labelled")
    assert QUESTION in project.staff_examples_file.read_text()

    # a new topic from a title and a clicked sentence; a clinician approves it
    page.get_by_role("link", name="New topic").click()
    page.get_by_label("Question, as a button would show it").fill("Are fermented foods good for mood?")
    page.get_by_label("Answer, in plain words").fill(
        "The article says the gut houses about 100 trillion microbes; it does not discuss fermented foods.")
    page.locator("label.sentence").filter(has_text="100 trillion microbes").first.click()
    page.get_by_label("Example questions, one per line").fill(
        "are fermented foods good for my mood\nis kimchi good for mood\ndoes sauerkraut lift my mood")
    page.get_by_role("button", name="Send for a clinician's approval").first.click()
    expect(page.get_by_role("heading", name="Approvals")).to_be_visible()
    expect(page.locator("body")).to_contain_text("fermented_foods_good_mood")

    clinician, clinician_watch = new_page(width=1280, height=800)
    log_in(clinician, base, "carol")
    clinician.get_by_role("link", name="Approvals").click()
    clinician.get_by_role("button", name="Approve").first.click()
    expect(clinician.locator("body")).to_contain_text("approved")
    clinician.screenshot(path=str(screenshots / "staff-approved.png"))

    # retrain: progress, then the new model live
    page.get_by_role("link", name="Models").click()
    live_before = page.locator("#live-h + p").inner_text()
    page.get_by_role("button", name="Retrain and put live if the checks pass").click()
    expect(page.get_by_role("progressbar")).to_be_visible()
    expect(page.locator("body")).to_contain_text("left")
    page.screenshot(path=str(screenshots / "staff-retrain-progress.png"))
    expect(page.get_by_role("button", name="Retrain and put live if the checks pass")).to_be_visible(
        timeout=RETRAIN_TIMEOUT_MS)
    result = page.locator("#retrain-h ~ p").first.inner_text()
    assert "The new model is live" in result, page.locator("pre").first.inner_text()
    live_after = page.locator("#live-h + p").inner_text()
    assert live_after != live_before and live_after.startswith("model-")
    expect(page.locator("body")).to_contain_text("Live since")
    page.screenshot(path=str(screenshots / "staff-models.png"), full_page=True)
    assert Assistant.topic(assistant.send("flow-b", QUESTION)) == RIGHT_TOPIC

    # the dashboard draws its charts
    page.get_by_role("link", name="Dashboard").click()
    charts = page.locator("section.chart svg")
    assert charts.count() >= 3
    expect(charts.first).to_be_visible()
    csv = page.request.get(base + "/dashboard/outcomes.csv?days=30")
    assert csv.ok and csv.text().startswith("reply,replies")
    page.screenshot(path=str(screenshots / "staff-dashboard.png"), full_page=True)

    # a booking's status, when the front desk's page is there
    bookings = page.request.get(base + "/bookings", max_redirects=0)
    if bookings.status == 200:
        change_a_booking_status(page, project, base, screenshots)

    # refused: no login, or sent from another site
    anonymous = page.context.browser.new_context()
    try:
        refused = anonymous.request.post(base + "/label", form={"ids": "1", "topic": "diet"},
                                         max_redirects=0)
        assert refused.status == 401
    finally:
        anonymous.close()
    token = page.locator("input[name=csrf]").first.get_attribute("value")
    cross = page.request.post(base + "/label", form={"ids": "1", "topic": "diet", "csrf": token},
                              headers={"Origin": "https://attacker.example"})
    assert cross.status == 403
    no_script_errors(watch)
    no_script_errors(clinician_watch)


def change_a_booking_status(page: Any, project: Project, base: str, screenshots: Path) -> None:
    """A request as the booking form stores it, marked as handled on the front desk's page."""
    from bot.booking.store import BookingRequest, get_booking, save_booking

    reference = save_booking(BookingRequest("Alex Example", "alex@example.com", "email",
                                            "Tuesday morning"), "flow-booking",
                             project.database_url).reference
    page.goto(base + "/bookings")
    page.get_by_role("link", name=reference).click()
    select = page.locator("select[name=status]")
    current = select.input_value()
    target = next(v for v in select.locator("option").evaluate_all("os => os.map(o => o.value)")
                  if v != current)
    select.select_option(target)
    page.get_by_role("button", name="Change status").click()
    expect(page.locator("body")).to_contain_text(f"{current} -> {target}")
    stored = get_booking(reference, project.database_url)
    assert stored is not None and stored.status == target
    page.screenshot(path=str(screenshots / "staff-bookings.png"), full_page=True)
