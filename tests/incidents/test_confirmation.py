"""User confirmation (SPEC §5): the e-mailed confirm/reject links, auto-close after N
business days, the closure checklist and the satisfaction survey."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.incidents import confirmation
from dutydesk.incidents.jobs import claim, close_due
from dutydesk.kernel import clock
from dutydesk.models import Incident, IncidentEvent, Notification
from tests.factories import Cast, act, new_incident

API = "/api/v1"
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CSRF = {"csrf_token": "test-double-submit-token-0123456789"}  # the form field = the cookie


@pytest.fixture(autouse=True)
def _csrf_cookie(client: TestClient) -> None:
    """The link pages' forms carry the visitor's double-submit CSRF token."""
    client.cookies.set("dd_csrf", CSRF["csrf_token"])


def resolve(client: TestClient, cast: Cast, number: str, **extra: object) -> dict[str, object]:
    r = act(
        client,
        cast.alice,
        number,
        "resolve",
        resolution_code="fixed",
        resolution_notes="Restarted the mail relay",
        is_workaround=False,
        **extra,
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def resolved(client: TestClient, cast: Cast) -> str:
    number = str(
        new_incident(
            client,
            cast.alice,
            caller_id=cast.dave.id,
            category_id=cast.hardware.id,
            assignment_group_id=cast.desk.id,
        )["number"]
    )
    resolve(client, cast, number)
    return number


def mails(db: Database, number: str, event: str) -> list[Notification]:
    with db.unit_of_work(write=False) as s:
        found = list(
            s.scalars(
                select(Notification)
                .join(Incident, Incident.id == Notification.incident_id)
                .where(Incident.number == number, Notification.event == event)
                .order_by(Notification.id)
            )
        )
        s.expunge_all()
        return found


def link_in(db: Database, number: str, event: str, name: str) -> tuple[str, str]:
    """(path, token) of the link in the caller's mail for `event`."""
    (mail,) = [m for m in mails(db, number, event) if m.channel == "email"]
    pattern = {"confirm": r"/confirm/\S+answer=yes", "reject": r"/confirm/\S+answer=no"}.get(
        name, r"/survey/\S+"
    )
    found = re.search(r"http://127\.0\.0\.1:8000(" + pattern + ")", mail.body)
    assert found, mail.body
    url = urlsplit(found.group(1))
    return url.path, parse_qs(url.query)["t"][0]


def incident(db: Database, number: str) -> Incident:
    with db.unit_of_work(write=False) as s:
        found = s.scalar(select(Incident).where(Incident.number == number))
        assert found is not None
        s.expunge(found)
        return found


def events(db: Database, number: str) -> list[IncidentEvent]:
    with db.unit_of_work(write=False) as s:
        found = list(
            s.scalars(
                select(IncidentEvent)
                .join(Incident, Incident.id == IncidentEvent.incident_id)
                .where(Incident.number == number)
                .order_by(IncidentEvent.seq)
            )
        )
        s.expunge_all()
        return found


# ----------------------------------------------------------------- the links


def test_resolution_mails_the_caller_links_that_show_a_form_and_change_nothing(
    client: TestClient, cast: Cast, db: Database
) -> None:
    number = resolved(client, cast)
    (mail,) = mails(db, number, "resolved")
    assert mail.recipient_user_id == cast.dave.id and "Restarted the mail relay" in mail.body
    path, token = link_in(db, number, "resolved", "confirm")
    assert path == f"/confirm/{number}"
    page = client.get(path, params={"t": token, "answer": "yes"})
    assert page.status_code == 200 and "Did this solve your problem?" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert incident(db, number).state == "resolved"  # a mail scanner following links: no change


def test_confirming_closes_once_and_sends_the_survey(
    client: TestClient, cast: Cast, db: Database
) -> None:
    number = resolved(client, cast)
    path, token = link_in(db, number, "resolved", "confirm")
    r = client.post(path, data={**CSRF, "t": token, "answer": "confirm"})
    assert r.status_code == 200 and f"{number} is closed" in r.text
    found = incident(db, number)
    assert found.state == "closed" and found.closed_at is not None
    assert found.auto_close_at is None
    closing = [e for e in events(db, number) if e.field == "state"][-1]
    assert closing.rule_id == "CNF-1" and closing.actor_id == cast.dave.id
    assert closing.channel == "link"
    again = client.post(path, data={**CSRF, "t": token, "answer": "confirm"})
    assert again.status_code == 410 and "already used" in again.text
    assert client.get(path, params={"t": token}).status_code == 410
    survey_path, _ = link_in(db, number, "closed", "survey")
    assert survey_path == f"/survey/{number}"


def test_rejecting_needs_a_reason_and_reopens_within_the_window(
    client: TestClient, cast: Cast, db: Database
) -> None:
    number = resolved(client, cast)
    path, token = link_in(db, number, "resolved", "reject")
    blank = client.post(path, data={**CSRF, "t": token, "answer": "reject", "reason": "  "})
    assert blank.status_code == 422 and "say what still does not work" in blank.text
    assert incident(db, number).state == "resolved"  # nothing written
    r = client.post(path, data={**CSRF, "t": token, "answer": "reject", "reason": "still bounces"})
    assert r.status_code == 200 and "open again" in r.text
    found = incident(db, number)
    assert found.state == "in_progress" and found.reopen_count == 1
    assert found.confirm_nonce is None and found.auto_close_at is None
    assert (
        client.post(path, data={**CSRF, "t": token, "answer": "reject", "reason": "x"}).status_code
        == 410
    )


def test_rejecting_after_the_window_opens_a_linked_follow_up_once(
    client: TestClient, cast: Cast, db: Database, settings: Settings
) -> None:
    settings.auto_close_business_days = 30
    with clock.frozen(MONDAY) as advance:
        number = resolved(client, cast)
        _, token = link_in(db, number, "resolved", "reject")
        advance(timedelta(days=settings.reopen_window_days, hours=1))
        r = client.post(
            f"{API}/links/confirmation",
            json={"number": number, "token": token, "answer": "reject", "reason": "back again"},
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["number"] != number and body["follow_up_of"] == number
    assert incident(db, number).state == "resolved"
    again = client.post(
        f"{API}/links/confirmation",
        json={"number": number, "token": token, "answer": "reject", "reason": "back again"},
    )
    assert again.status_code == 410  # one follow-up per link, not one per click


def test_forged_foreign_and_expired_links_are_refused(
    client: TestClient, cast: Cast, db: Database, settings: Settings
) -> None:
    with clock.frozen(MONDAY) as advance:
        number = resolved(client, cast)
        other = resolved(client, cast)
        path, token = link_in(db, number, "resolved", "confirm")
        _, other_token = link_in(db, other, "resolved", "confirm")
        payload, _, signature = token.rpartition(".")
        forged = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
        assert client.post(path, data={**CSRF, "t": forged}).status_code == 404
        assert (
            client.post(path, data={**CSRF, "t": other_token}).status_code == 404
        )  # not this incident
        r = client.post(f"{API}/links/survey", json={"number": number, "token": token, "rating": 5})
        assert r.status_code == 404  # a confirm link is no survey link
        advance(timedelta(days=settings.link_valid_days, seconds=1))
        expired = client.post(path, data={**CSRF, "t": token, "answer": "confirm"})
        assert expired.status_code == 410 and "expired" in expired.text
    assert incident(db, number).state == "resolved"


def test_a_disabled_caller_cannot_answer(client: TestClient, cast: Cast, db: Database) -> None:
    number = resolved(client, cast)
    path, token = link_in(db, number, "resolved", "confirm")
    r = client.patch(
        f"{API}/admin/users/{cast.dave.id}", json={"is_active": False}, headers=cast.bob.headers
    )
    assert r.status_code == 200, r.text
    assert client.post(path, data={**CSRF, "t": token, "answer": "confirm"}).status_code == 403
    assert incident(db, number).state == "resolved"


def test_links_never_reach_chat_channels_or_webhooks(
    client: TestClient, cast: Cast, db: Database
) -> None:
    for kind, url in (("webhook", "https://hooks.example/dd"), ("slack", "https://slack.example/")):
        r = client.post(
            f"{API}/admin/notify/endpoints",
            json={"name": kind, "kind": kind, "url": url, "events": ["resolved", "closed"]},
            headers=cast.bob.headers,
        )
        assert r.status_code == 201, r.text
    number = resolved(client, cast)
    by_channel = {m.channel: m for m in mails(db, number, "resolved")}
    assert set(by_channel) == {"email", "webhook", "slack"}
    assert "/confirm/" in by_channel["email"].body
    for channel in ("webhook", "slack"):
        assert "/confirm/" not in by_channel[channel].body, channel
    assert "confirm_url" not in json.loads(by_channel["webhook"].body)["extra"]
    # a chat template may not use them either
    r = client.put(
        f"{API}/admin/notify/templates/resolved/slack",
        json={"subject": "{{ incident.number }}", "body": "{{ extra.confirm_url }}"},
        headers=cast.bob.headers,
    )
    assert r.status_code == 422, r.text


# ----------------------------------------------------------------- auto-close


def test_the_worker_closes_after_three_days_on_the_24x7_calendar(
    client: TestClient, cast: Cast, db: Database, settings: Settings
) -> None:
    with clock.frozen(MONDAY) as advance:
        number = resolved(client, cast)
        assert incident(db, number).auto_close_at == MONDAY + timedelta(days=3)
        advance(timedelta(days=3) - timedelta(seconds=1))
        assert close_due(db, settings, clock.now()).done == 0
        advance(timedelta(seconds=1))
        run = close_due(db, settings, clock.now())
        assert run.done == 1 and run.lag_seconds == 0
        assert close_due(db, settings, clock.now()).done == 0  # exactly once
    found = incident(db, number)
    assert found.state == "closed" and found.auto_close_at is None
    closing = [e for e in events(db, number) if e.field == "state"][-1]
    assert closing.rule_id == "CLS-1" and closing.actor_type == "system"
    assert "did not answer" in (closing.reason or "") and "late" not in (closing.reason or "")
    assert [m.recipient_user_id for m in mails(db, number, "closed")] == [cast.dave.id]


def test_auto_close_after_downtime_fires_once_and_says_it_was_late(
    client: TestClient, cast: Cast, db: Database, settings: Settings
) -> None:
    with clock.frozen(MONDAY) as advance:
        number = resolved(client, cast)
        advance(timedelta(days=10))
        run = close_due(db, settings, clock.now())
        assert run.done == 1 and run.lag_seconds == 7 * 86400
    closing = [e for e in events(db, number) if e.field == "state"][-1]
    assert "late" in (closing.reason or "")


def test_auto_close_counts_business_days_of_the_incidents_calendar(
    client: TestClient, cast: Cast, db: Database
) -> None:
    config = {
        "timezone": "Europe/Berlin",
        "hours": {d: ["08:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        "holidays": {"country": "DE"},
    }
    cal = client.post(
        f"{API}/admin/sla/calendars",
        json={"name": "Berlin office", "config": config},
        headers=cast.bob.headers,
    ).json()
    r = client.post(
        f"{API}/admin/sla/policies",
        json={
            "name": "Acme",
            "customer_id": cast.acme.id,
            "calendar_id": cal["id"],
            "resolution_seconds": 8 * 3600,
        },
        headers=cast.bob.headers,
    )
    assert r.status_code == 201, r.text
    # Wednesday 23 Dec 2026, 15:00 Berlin: Thu 24 (1), Fri 25 and Sat-Sun off, Mon 28 (2),
    # Tue 29 (3) -> closes Tuesday 29 Dec at 15:00 Berlin (14:00 UTC).
    with clock.frozen(datetime(2026, 12, 23, 14, 0, tzinfo=UTC)):
        number = str(
            new_incident(
                client,
                cast.alice,
                caller_id=cast.dave.id,
                customer_id=cast.acme.id,
                category_id=cast.hardware.id,
                assignment_group_id=cast.desk.id,
            )["number"]
        )
        resolve(client, cast, number)
    assert incident(db, number).auto_close_at == datetime(2026, 12, 29, 14, 0, tzinfo=UTC)


def test_an_answer_or_reopen_takes_the_incident_off_the_schedule(
    client: TestClient, cast: Cast, db: Database, settings: Settings
) -> None:
    with clock.frozen(MONDAY) as advance:
        number = resolved(client, cast)
        seen = incident(db, number).auto_close_at
        assert seen is not None
        act(client, cast.dave, number, "reopen", reason="not fixed")
        with db.unit_of_work() as s:  # a worker that listed it before the reopen
            found = s.scalar(select(Incident.id).where(Incident.number == number))
            assert found is not None and claim(s, found, seen) is False
        advance(timedelta(days=5))
        assert close_due(db, settings, clock.now()).done == 0
    assert incident(db, number).state == "in_progress"


def test_auto_close_can_be_turned_off(
    client: TestClient, cast: Cast, db: Database, settings: Settings
) -> None:
    settings.auto_close_business_days = 0
    number = resolved(client, cast)
    assert incident(db, number).auto_close_at is None
    assert incident(db, number).confirm_nonce is not None  # the links still work


# ----------------------------------------------------------------- the survey


def test_the_survey_link_records_one_rating(client: TestClient, cast: Cast, db: Database) -> None:
    number = resolved(client, cast)
    path, token = link_in(db, number, "resolved", "confirm")
    client.post(path, data={**CSRF, "t": token, "answer": "confirm"})
    survey, survey_token = link_in(db, number, "closed", "survey")
    page = client.get(survey, params={"t": survey_token, "rating": 4})
    assert page.status_code == 200 and 'value="4" checked' in page.text
    bad = client.post(survey, data={**CSRF, "t": survey_token, "rating": "9"})
    assert bad.status_code == 422 and incident(db, number).csat_rating is None
    r = client.post(
        survey, data={**CSRF, "t": survey_token, "rating": "4", "comment": "quick, thanks"}
    )
    assert r.status_code == 200 and "recorded" in r.text
    found = incident(db, number)
    assert (found.csat_rating, found.csat_comment) == (4, "quick, thanks")
    assert found.csat_at is not None
    assert client.post(survey, data={**CSRF, "t": survey_token, "rating": "1"}).status_code == 410
    assert incident(db, number).csat_rating == 4
    shown = client.get(f"{API}/incidents/{number}", headers=cast.alice.headers).json()
    assert shown["csat_rating"] == 4 and shown["csat_comment"] == "quick, thanks"
    assert any(e.kind == "csat_given" and e.rule_id == "CSAT" for e in events(db, number))


def test_the_survey_by_api_is_for_the_caller_of_a_closed_incident(
    client: TestClient, cast: Cast, db: Database
) -> None:
    number = resolved(client, cast)
    url = f"{API}/incidents/{number}/survey"
    assert client.post(url, json={"rating": 5}, headers=cast.dave.headers).status_code == 409
    act(client, cast.dave, number, "confirm")
    assert client.post(url, json={"rating": 0}, headers=cast.dave.headers).status_code == 422
    assert client.post(url, json={"rating": 5}, headers=cast.alice.headers).status_code == 403
    r = client.post(url, json={"rating": 5, "comment": "great"}, headers=cast.dave.headers)
    assert r.status_code == 200 and r.json()["csat_rating"] == 5
    assert client.post(url, json={"rating": 3}, headers=cast.dave.headers).status_code == 409
    assert mails(db, number, "closed")  # the survey mail went out; its link is now spent
    _, token = link_in(db, number, "closed", "survey")
    r = client.post(f"{API}/links/survey", json={"number": number, "token": token, "rating": 1})
    assert r.status_code == 410


# ----------------------------------------------------------------- the closure checklist


def test_the_default_checklist_wants_a_category(
    client: TestClient, cast: Cast, db: Database
) -> None:
    number = str(new_incident(client, cast.alice, caller_id=cast.dave.id)["number"])
    r = act(
        client,
        cast.alice,
        number,
        "resolve",
        resolution_code="fixed",
        resolution_notes="done",
        is_workaround=False,
    )
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"field": "category", "msg": "The incident has a category (category)"}
    ]
    assert incident(db, number).state == "new"
    items = client.get(
        f"{API}/incidents/{number}/closure-checklist", headers=cast.dave.headers
    ).json()
    assert items == [
        {
            "key": "category",
            "label": "The incident has a category",
            "kind": "field",
            "field": "category",
            "done": False,
        }
    ]
    client.patch(
        f"{API}/incidents/{number}",
        json={"category_id": cast.hardware.id},
        headers={**cast.alice.headers, "If-Match": "*"},
    )
    resolve(client, cast, number)


def test_manual_items_are_ticked_on_resolve_and_checked_again_on_close(
    client: TestClient, cast: Cast, db: Database
) -> None:
    checks = client.get(f"{API}/admin/closure-checks", headers=cast.alice.headers).json()
    informed = next(c for c in checks if c["key"] == "caller_informed")
    r = client.patch(
        f"{API}/admin/closure-checks/{informed['id']}",
        json={"is_active": True},
        headers=cast.bob.headers,
    )
    assert r.status_code == 200 and r.json()["is_active"] is True
    number = str(
        new_incident(client, cast.alice, caller_id=cast.dave.id, category_id=cast.hardware.id)[
            "number"
        ]
    )
    fields = {"resolution_code": "fixed", "resolution_notes": "done", "is_workaround": False}
    r = act(client, cast.alice, number, "resolve", **fields)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "checklist"
    r = act(client, cast.alice, number, "resolve", checklist=["made_up"], **fields)
    assert r.status_code == 422 and "made_up" in r.json()["errors"][0]["msg"]
    r = act(client, cast.alice, number, "resolve", checklist=["caller_informed"], **fields)
    assert r.status_code == 200, r.text
    assert r.json()["closure_ticks"] == ["caller_informed"]
    assert any(e.kind == "checklist_ticked" for e in events(db, number))
    # a new item after resolution: the agent's close asks for it
    r = client.post(
        f"{API}/admin/closure-checks",
        json={"key": "kb_checked", "label": "Knowledge base checked", "kind": "manual"},
        headers=cast.bob.headers,
    )
    assert r.status_code == 201, r.text
    r = act(client, cast.alice, number, "close")
    assert r.status_code == 422 and "kb_checked" in r.json()["errors"][0]["msg"]
    r = act(client, cast.alice, number, "close", checklist=["kb_checked"])
    assert r.status_code == 200 and r.json()["state"] == "closed"
    assert r.json()["closure_ticks"] == ["caller_informed", "kb_checked"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"key": "x", "label": "X", "kind": "field", "field": "colour"}, "field"),
        ({"key": "x", "label": "X", "kind": "field"}, "field"),
        ({"key": "x", "label": "X", "kind": "manual", "field": "ci"}, "field"),
        ({"key": "x", "label": "X", "kind": "oracle"}, "kind"),
        ({"key": "bad key!", "label": "X", "kind": "manual"}, "key"),
    ],
)
def test_checklist_items_are_validated(
    client: TestClient, cast: Cast, body: dict[str, object], field: str
) -> None:
    before = client.get(f"{API}/admin/closure-checks", headers=cast.bob.headers).json()
    r = client.post(f"{API}/admin/closure-checks", json=body, headers=cast.bob.headers)
    assert r.status_code == 422, r.text
    assert field in json.dumps(r.json()["errors"])
    assert client.get(f"{API}/admin/closure-checks", headers=cast.bob.headers).json() == before


def test_checklist_keys_are_unique_and_items_can_be_removed(client: TestClient, cast: Cast) -> None:
    body = {"key": "ci_set", "label": "A CI is set", "kind": "field", "field": "ci"}
    made = client.post(f"{API}/admin/closure-checks", json=body, headers=cast.bob.headers)
    assert made.status_code == 201
    dup = client.post(f"{API}/admin/closure-checks", json=body, headers=cast.bob.headers)
    assert dup.status_code == 409
    url = f"{API}/admin/closure-checks/{made.json()['id']}"
    assert client.delete(url, headers=cast.bob.headers).status_code == 204
    assert client.delete(url, headers=cast.bob.headers).status_code == 404


# ----------------------------------------------------------------- the key


def test_links_are_signed_with_the_configured_key_when_there_is_one(
    client: TestClient, cast: Cast, db: Database, settings: Settings
) -> None:
    number = resolved(client, cast)
    path, token = link_in(db, number, "resolved", "confirm")
    settings.secret_key = "k" * 40  # a different key: the mailed link no longer verifies
    assert client.get(path, params={"t": token}).status_code == 404
    with db.unit_of_work(write=False) as s:
        assert confirmation.secret_key(s, settings) == "k" * 40


def test_a_short_secret_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        Settings(secret_key="short")
