"""The account pages: the profile, and the user's own notification preferences."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from dutydesk.db import Database
from dutydesk.models import NotifyPreference
from dutydesk.notify.templates import ALL_EVENTS
from tests.factories import Cast
from tests.web.conftest import row_counts, sign_in


def preferences(db: Database, user_id: int) -> dict[tuple[str, str], bool]:
    with db.unit_of_work(write=False) as s:
        rows = s.scalars(select(NotifyPreference).where(NotifyPreference.user_id == user_id))
        return {(p.event, p.channel): p.enabled for p in rows}


def test_the_profile_shows_the_users_own_account(client: TestClient, cast: Cast) -> None:
    sign_in(client, "ivy")
    page = client.get("/account")
    assert page.status_code == 200
    assert "ivy@example.com" in page.text and "incident manager" in page.text
    assert 'href="/account" aria-current="page"' in page.text


def test_preferences_are_shown_and_saved(client: TestClient, cast: Cast, db: Database) -> None:
    csrf = sign_in(client, "alice")
    page = client.get("/account/notifications")
    assert page.status_code == 200
    assert 'name="pref:assigned:email" value="on" checked' in page.text
    assert 'name="pref:weekly_report:email" value="on">' in page.text  # off by default
    everything_but_assigned = [f"pref:{event}:email" for event in ALL_EVENTS if event != "assigned"]
    form = {"csrf_token": csrf, **{key: "on" for key in everything_but_assigned}}
    saved = client.post("/account/notifications", data=form)
    assert saved.status_code == 200 and "Notification preferences saved." in saved.text
    assert preferences(db, cast.alice.id) == {
        ("assigned", "email"): False,
        ("weekly_report", "email"): True,
    }
    again = client.post("/account/notifications", data=form)
    assert "Nothing changed." in again.text


def test_unknown_or_staff_only_preferences_are_refused_and_write_nothing(
    client: TestClient, cast: Cast, db: Database
) -> None:
    csrf = sign_in(client, "dave")
    page = client.get("/account/notifications")
    assert "weekly_report" not in page.text  # a requester has no report to choose
    before = row_counts(db)
    bad = client.post(
        "/account/notifications", data={"csrf_token": csrf, "pref:nonsense:email": "on"}
    )
    assert bad.status_code == 422 and "unknown notification" in bad.text
    staff_only = client.post(
        "/account/notifications", data={"csrf_token": csrf, "pref:weekly_report:email": "on"}
    )
    assert staff_only.status_code == 422
    assert row_counts(db) == before
