"""The staff page's requests view: newest first, status filter, audited openings, status
changes with clear refusals, CSV export with neutralised cells, the open count everywhere."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from typing import List

from aiohttp.test_utils import TestClient

from bot.booking.store import KIND_CALLBACK, BookingRequest, get_booking, save_booking
from bot.staff.project import Project
from bot.staff.store import audit_log
from tests.unit.test_staff_web import log_in, project, run  # noqa: F401 - fixture

START = datetime(2026, 11, 2, 16, 0, tzinfo=timezone.utc)


def three(project: Project) -> List[str]:  # noqa: F811
    url = project.database_url
    old = save_booking(BookingRequest("Ann Older", "+14035550142", "phone", "Monday mornings"),
                       "a", url, now=START).reference
    mid = save_booking(BookingRequest("=cmd|'/c calc'!A1", "mid@example.com", "email",
                                      "weekdays after 5", reason="IBS"), "b", url,
                       now=START + timedelta(hours=1)).reference
    new = save_booking(BookingRequest("Cal Back", "+15875550123", "phone", "Call back",
                                      kind=KIND_CALLBACK), "c", url,
                       now=START + timedelta(hours=2)).reference
    return [new, mid, old]


def test_requests_newest_first_with_the_open_count_on_every_page(project: Project) -> None:  # noqa: F811
    refs = three(project)

    async def scenario(client: TestClient) -> None:
        await log_in(client, "sam", "sam's passphrase")
        listing = await (await client.get("/bookings")).text()
        assert [listing.index(r) for r in refs] == sorted(listing.index(r) for r in refs)
        assert "Ann Older" not in listing  # names only when one request is opened
        assert "callback" in listing
        for path in ("/", "/changes", "/models", "/audit"):
            assert "Requests (3 open)" in await (await client.get(path)).text()

    run(project, scenario)


def test_status_filter(project: Project) -> None:  # noqa: F811
    new, mid, old = three(project)

    async def scenario(client: TestClient) -> None:
        csrf = await log_in(client, "sam", "sam's passphrase")
        await client.post(f"/bookings/{old}/status", data={"status": "booked", "csrf": csrf})
        booked = await (await client.get("/bookings?status=booked")).text()
        assert old in booked and new not in booked and mid not in booked
        bad = await client.get("/bookings?status=<script>")
        assert bad.status == 400 and "Unknown status" in await bad.text()
        assert "<script>" not in await bad.text()
        assert "Requests (2 open)" in await (await client.get("/bookings")).text()

    run(project, scenario)


def test_opening_a_request_shows_it_and_is_audited(project: Project) -> None:  # noqa: F811
    new, mid, old = three(project)

    async def scenario(client: TestClient) -> None:
        await log_in(client, "sam", "sam's passphrase")
        page = await (await client.get(f"/bookings/{old}")).text()
        assert "Ann Older" in page and "(403) 555-0142" in page and "Monday mornings" in page
        assert "clinic_email: pending" in page
        assert "Notifications: 7 waiting to be sent" in await (await client.get("/bookings")).text()
        missing = await client.get("/bookings/HF-NOSUCH")
        assert missing.status == 400 and "No request has the reference" in await missing.text()

    run(project, scenario)
    entries = [(e.username, e.action, e.target) for e in audit_log(project.database_url)]
    assert ("sam", "view_booking", old) in entries


def test_status_change_and_clear_refusals_that_change_nothing(project: Project) -> None:  # noqa: F811
    new, mid, old = three(project)

    async def scenario(client: TestClient) -> None:
        csrf = await log_in(client, "sam", "sam's passphrase")
        ok = await client.post(f"/bookings/{new}/status", data={"status": "contacted", "csrf": csrf})
        assert f"{new}: new -&gt; contacted." in await ok.text()
        bad = await client.post(f"/bookings/{mid}/status", data={"status": "done-ish", "csrf": csrf})
        assert "Not done: Unknown status" in await bad.text()
        unknown = await client.post("/bookings/HF-NOSUCH/status",
                                    data={"status": "booked", "csrf": csrf})
        assert "No request has the reference" in await unknown.text()
        forged = await client.post(f"/bookings/{mid}/status", data={"status": "closed", "csrf": "x"})
        assert forged.status == 403

    run(project, scenario)
    url = project.database_url
    assert get_booking(new, url).status == "contacted"  # type: ignore[union-attr]
    assert get_booking(mid, url).status == "new"  # type: ignore[union-attr]
    entries = [(e.action, e.target, e.details) for e in audit_log(url)]
    assert ("booking_status", new, {"previous": "new", "status": "contacted"}) in entries


def test_csv_export_neutralises_formulas_and_is_audited(project: Project) -> None:  # noqa: F811
    refs = three(project)

    async def scenario(client: TestClient) -> str:
        await log_in(client, "sam", "sam's passphrase")
        reply = await client.get("/bookings.csv")
        assert reply.headers["Content-Type"].startswith("text/csv")
        return await reply.text()

    rows = list(csv.DictReader(io.StringIO(run(project, scenario))))
    assert [r["reference"] for r in rows] == refs
    assert rows[1]["name"] == "'=cmd|'/c calc'!A1"
    assert rows[0]["kind"] == "callback"
    assert "export_bookings" in [e.action for e in audit_log(project.database_url)]


def test_requests_need_a_login(project: Project) -> None:  # noqa: F811
    three(project)

    async def scenario(client: TestClient) -> None:
        for path in ("/bookings", "/bookings.csv", "/bookings/HF-AAAAAA"):
            reply = await client.get(path, allow_redirects=False)
            assert (reply.status, reply.headers["Location"]) == (303, "/login")

    run(project, scenario)
