"""Webhooks against a real HTTP server: signatures, retries with backoff, dead letters,
Slack/Teams bodies, the claim's compare-and-set and the lease after a crash."""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.kernel import clock
from dutydesk.models import Incident, Notification, NotifyEndpoint
from dutydesk.notify import admin, delivery, service
from dutydesk.notify.channels.webhook import verify
from dutydesk.notify.jobs import deliver_due
from tests.factories import Cast
from tests.notify.conftest import SYSTEM, T0, Receiver, actor_of, free_port, make_incident

SECRET = "s3cret-s3cret-s3cret"
CHANGE = {"old_state": "assigned", "new_state": "in_progress"}


def setup(
    db: Database, cast: Cast, settings: Settings, url: str, kind: str = "webhook"
) -> tuple[Incident, int]:
    with db.unit_of_work() as s:
        admin.create_endpoint(
            s, actor_of(db, cast.bob), name=kind, url=url, kind=kind, secret=SECRET
        )
    incident = make_incident(
        db, cast, group=cast.desk, assignee=cast.alice, short_description="<!here> & co"
    )
    with clock.frozen(T0), db.unit_of_work() as s:
        [row] = service.announce(
            s,
            settings,
            s.get(Incident, incident.id) or incident,
            "state_changed",
            actor=SYSTEM,
            occurrence="1",
            extra=CHANGE,
            recipients=[],
        )
    return incident, row.id


def row(db: Database, notification_id: int) -> Notification:
    with db.unit_of_work(write=False) as s:
        found = s.get(Notification, notification_id)
        assert found is not None
        s.expunge(found)
        return found


def deliver(db: Database, settings: Settings, seconds: float = 0) -> int:
    with clock.frozen(T0 + timedelta(seconds=seconds)):
        return deliver_due(db, settings, clock.now()).done


def test_a_signed_delivery_the_receiver_can_verify(
    db: Database, cast: Cast, notify_settings: Settings, receiver: Receiver
) -> None:
    incident, ident = setup(db, cast, notify_settings, receiver.url + "/hook")
    assert deliver(db, notify_settings) == 1
    [hit] = receiver.hits
    assert hit.path == "/hook"
    assert verify(SECRET, hit.body, hit.headers["X-DutyDesk-Signature"])
    assert not verify("another-secret-entirely", hit.body, hit.headers["X-DutyDesk-Signature"])
    assert hit.headers["X-DutyDesk-Delivery"] == str(ident)
    assert hit.headers["X-DutyDesk-Timestamp"] == str(int(T0.timestamp()))
    assert hit.headers["X-DutyDesk-Event"] == "state_changed"
    body = hit.json()
    assert set(body) == {"event", "incident", "extra", "notification_id", "occurred_at"}
    assert body["notification_id"] == ident and body["extra"] == CHANGE
    assert body["incident"]["number"] == incident.number
    assert body["incident"]["short_description"] == "<!here> & co"
    assert row(db, ident).state == "sent"


def test_a_500_is_retried_with_backoff_and_the_same_bytes(
    db: Database, cast: Cast, notify_settings: Settings, receiver: Receiver
) -> None:
    _incident, ident = setup(db, cast, notify_settings, receiver.url)
    receiver.answer(500)
    receiver.answer(503)
    assert deliver(db, notify_settings) == 1
    first = row(db, ident)
    assert first.state == "pending" and first.attempts == 1
    assert first.last_error is not None and first.last_error.startswith("HTTP 500")
    assert first.next_attempt_at is not None
    wait = (first.next_attempt_at - T0).total_seconds()
    assert 15 <= wait <= 45  # 30 s × jitter in [0.5, 1.5]
    assert deliver(db, notify_settings, wait - 1) == 0
    assert deliver(db, notify_settings, wait) == 1
    second = row(db, ident)
    assert second.next_attempt_at is not None
    wait2 = (second.next_attempt_at - T0).total_seconds() - wait
    assert 30 <= wait2 <= 90  # doubled
    assert deliver(db, notify_settings, wait + wait2) == 1
    done = row(db, ident)
    assert (done.state, done.attempts, done.next_attempt_at) == ("sent", 3, None)
    assert len(receiver.hits) == 3
    assert len({h.body for h in receiver.hits}) == 1  # the same bytes every time
    assert {h.headers["X-DutyDesk-Delivery"] for h in receiver.hits} == {str(ident)}


def test_a_404_is_dead_at_once_and_an_admin_can_retry_it(
    db: Database, cast: Cast, notify_settings: Settings, receiver: Receiver, client: TestClient
) -> None:
    _incident, ident = setup(db, cast, notify_settings, receiver.url)
    receiver.answer(404)
    assert deliver(db, notify_settings) == 1
    dead = row(db, ident)
    assert (dead.state, dead.attempts, dead.next_attempt_at) == ("dead", 1, None)
    assert dead.last_error is not None and dead.last_error.startswith("HTTP 404")
    listed = client.get("/api/v1/admin/notify/outbox?state=dead", headers=cast.bob.headers)
    assert [n["id"] for n in listed.json()["items"]] == [ident]
    with clock.frozen(T0 + timedelta(minutes=5)):
        r = client.post(f"/api/v1/admin/notify/outbox/{ident}/retry", headers=cast.bob.headers)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "pending" and r.json()["attempts"] == 0
    again = client.post(f"/api/v1/admin/notify/outbox/{ident}/retry", headers=cast.bob.headers)
    assert again.status_code == 409
    assert deliver(db, notify_settings, 300) == 1
    assert row(db, ident).state == "sent" and len(receiver.hits) == 2


def test_429_waits_as_asked_and_redirects_are_not_followed(
    db: Database, cast: Cast, notify_settings: Settings, receiver: Receiver
) -> None:
    _incident, ident = setup(db, cast, notify_settings, receiver.url)
    receiver.answer(429, **{"Retry-After": "600"})
    receiver.answer(302, Location="https://elsewhere.example/")
    assert deliver(db, notify_settings) == 1
    waiting = row(db, ident)
    assert waiting.state == "pending" and waiting.next_attempt_at is not None
    assert waiting.next_attempt_at >= T0 + timedelta(seconds=600)
    assert deliver(db, notify_settings, 600) == 1
    dead = row(db, ident)
    assert dead.state == "dead" and dead.last_error is not None and "redirect" in dead.last_error


def test_retries_stop_after_the_last_attempt(
    db: Database, cast: Cast, notify_settings: Settings
) -> None:
    _incident, ident = setup(db, cast, notify_settings, f"http://127.0.0.1:{free_port()}/")
    at = 0.0
    for attempt in range(1, notify_settings.notify_max_attempts + 1):
        assert deliver(db, notify_settings, at) == 1
        current = row(db, ident)
        assert current.attempts == attempt
        assert current.last_error is not None and "connection error" in current.last_error
        if current.next_attempt_at is not None:
            at = (current.next_attempt_at - T0).total_seconds()
    assert row(db, ident).state == "dead"
    assert deliver(db, notify_settings, at + 10_000) == 0


def test_slack_and_teams_bodies(
    db: Database, cast: Cast, notify_settings: Settings, receiver: Receiver
) -> None:
    incident, _ = setup(db, cast, notify_settings, receiver.url + "/slack", kind="slack")
    with db.unit_of_work() as s:
        admin.create_endpoint(
            s, actor_of(db, cast.bob), name="teams", url=receiver.url + "/teams", kind="teams"
        )
    with clock.frozen(T0), db.unit_of_work() as s:
        service.announce(
            s,
            notify_settings,
            s.get(Incident, incident.id) or incident,
            "state_changed",
            actor=SYSTEM,
            occurrence="2",
            extra=CHANGE,
            recipients=[],
        )
    assert deliver(db, notify_settings) == 3
    by_path: dict[str, list[dict[str, str]]] = {}
    for hit in receiver.hits:
        by_path.setdefault(hit.path, []).append(hit.json())
    slack = by_path["/slack"][0]
    assert set(slack) == {"text"}
    assert slack["text"].startswith(f"*{incident.number} is now in progress*\n")
    assert "&lt;!here&gt; &amp; co" in slack["text"]  # no channel-wide ping from user text
    teams = by_path["/teams"][0]
    assert teams["@type"] == "MessageCard"
    assert teams["@context"] == "https://schema.org/extensions"
    assert teams["title"] == teams["summary"] == f"{incident.number} is now in progress"
    assert "&lt;!here&gt;" in teams["text"]


def test_a_deactivated_endpoint_cancels_what_is_queued(
    db: Database, cast: Cast, notify_settings: Settings, receiver: Receiver
) -> None:
    _incident, ident = setup(db, cast, notify_settings, receiver.url)
    with db.unit_of_work() as s:
        endpoint = s.scalars(select(NotifyEndpoint)).one()
        admin.deactivate_endpoint(s, actor_of(db, cast.bob), endpoint)
    assert deliver(db, notify_settings) == 1
    assert row(db, ident).state == "cancelled" and receiver.hits == []


def test_one_claim_wins_and_a_crashed_send_comes_back_after_the_lease(
    db: Database, cast: Cast, notify_settings: Settings, receiver: Receiver
) -> None:
    _incident, ident = setup(db, cast, notify_settings, receiver.url)
    lease = T0 + timedelta(seconds=notify_settings.notify_lease_seconds)
    with db.unit_of_work() as s:
        claimed = delivery.claim(s, ident, T0, lease)
        assert claimed is not None and claimed.attempts == 1
        assert delivery.claim(s, ident, T0, lease) is None  # a second worker saw the same row
    # The worker died after the claim: nothing is due until the lease ends.
    assert deliver(db, notify_settings, notify_settings.notify_lease_seconds - 1) == 0
    with clock.frozen(lease + timedelta(seconds=5)):
        run = deliver_due(db, notify_settings, clock.now())
    assert run.done == 1 and run.lag_seconds == 5
    done = row(db, ident)
    assert (done.state, done.attempts) == ("sent", 2)
    assert json.loads(receiver.hits[0].body)["notification_id"] == ident
