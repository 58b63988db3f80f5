"""SLA clocks on incidents, end to end through the API, with time moved by the tests.

The seeded policies run on the 24×7 calendar: P3 (impact 2 × urgency 2) has a 4 h response
and a 24 h resolution target, P1 (1 × 1) 15 min and 4 h; warnings at 50 % and 75 %.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.kernel import clock
from dutydesk.models import Incident, Notification
from dutydesk.sla.jobs import claim, due_clocks, fire_due
from tests.factories import Cast, Person, act, new_incident

API = "/api/v1"
H = 3600
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def advance() -> Iterator[Any]:
    with clock.frozen(T0) as move:
        yield move


def clocks(client: TestClient, who: Person, number: str) -> dict[str, dict[str, Any]]:
    response = client.get(f"{API}/incidents/{number}", headers=who.headers)
    assert response.status_code == 200, response.text
    return {
        c["kind"] if c["kind"] != "ola" else f"ola:{c['group_id']}": c
        for c in response.json()["sla"]
    }


def events(client: TestClient, who: Person, number: str, prefix: str = "sla_") -> list[Any]:
    response = client.get(f"{API}/incidents/{number}/events", headers=who.headers)
    return [e for e in response.json() if e["kind"].startswith(prefix)]


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def test_a_new_incident_starts_its_response_and_resolution_clocks(
    client: TestClient, cast: Cast, advance: Any
) -> None:
    number = new_incident(client, cast.dave)["number"]
    found = clocks(client, cast.bob, number)
    assert set(found) == {"response", "resolution"}
    response, resolution = found["response"], found["resolution"]
    assert (response["target_seconds"], resolution["target_seconds"]) == (4 * H, 24 * H)
    assert iso(response["due_at"]) == T0 + timedelta(hours=4)
    assert iso(resolution["due_at"]) == T0 + timedelta(hours=24)
    assert response["state"] == resolution["state"] == "running"
    assert response["policy"] == "Default P3"
    started = events(client, cast.bob, number)
    assert [(e["kind"], e["rule_id"]) for e in started] == [("sla_started", "CLK-S")]
    assert set(started[0]["new"]) == {"response", "resolution"}
    incident = client.get(f"{API}/incidents/{number}", headers=cast.bob.headers).json()
    assert iso(incident["respond_by"]) == T0 + timedelta(hours=4)
    assert iso(incident["resolve_by"]) == T0 + timedelta(hours=24)


def test_the_first_agent_response_meets_the_response_clock(
    client: TestClient, cast: Cast, advance: Any
) -> None:
    number = new_incident(client, cast.dave)["number"]
    advance(timedelta(minutes=30))
    reply = act(client, cast.alice, number, "assign", group_id=cast.desk.id)
    assert reply.status_code == 200, reply.text
    found = clocks(client, cast.bob, number)
    assert found["response"]["state"] == "met"
    assert found["response"]["elapsed_seconds"] == 30 * 60
    assert reply.json()["respond_by"] is None
    assert found["resolution"]["state"] == "running"


def test_pending_user_pauses_the_resolution_clock_and_resume_moves_the_due_time(
    client: TestClient, cast: Cast, advance: Any
) -> None:
    number = new_incident(client, cast.alice, caller_id=cast.dave.id)["number"]
    advance(timedelta(hours=1))
    assert (
        act(client, cast.alice, number, "pend", target="pending_user", reason="logs?").status_code
        == 200
    )
    advance(timedelta(hours=10))
    paused = clocks(client, cast.bob, number)["resolution"]
    assert paused["state"] == "paused"
    assert paused["elapsed_seconds"] == 1 * H  # the ten hours waiting do not count
    assert (
        client.get(f"{API}/incidents/{number}", headers=cast.bob.headers).json()["resolve_by"]
        is None
    )
    assert act(client, cast.alice, number, "resume").status_code == 200
    running = clocks(client, cast.bob, number)["resolution"]
    assert running["state"] == "running"
    assert iso(running["due_at"]) == T0 + timedelta(hours=11 + 23)
    kinds = [(e["kind"], e["rule_id"]) for e in events(client, cast.bob, number)]
    assert ("sla_paused", "CLK-P") in kinds and ("sla_resumed", "CLK-R") in kinds


def test_a_priority_change_retargets_and_keeps_the_time_used(
    client: TestClient, cast: Cast, advance: Any
) -> None:
    number = new_incident(client, cast.alice, caller_id=cast.dave.id)["number"]
    advance(timedelta(hours=2))
    etag = client.get(f"{API}/incidents/{number}", headers=cast.alice.headers).headers["etag"]
    patched = client.patch(
        f"{API}/incidents/{number}",
        json={"impact": 1, "urgency": 1},
        headers={**cast.alice.headers, "If-Match": etag},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["priority"] == 1
    resolution = {c["kind"]: c for c in patched.json()["sla"]}["resolution"]
    assert resolution["target_seconds"] == 4 * H
    assert resolution["elapsed_seconds"] == 2 * H
    assert iso(resolution["due_at"]) == T0 + timedelta(hours=4)  # 2 h used, 2 h left
    retargeted = [e for e in events(client, cast.bob, number) if e["kind"] == "sla_retargeted"]
    assert {e["field"] for e in retargeted} == {"sla.response", "sla.resolution"}


def test_an_agent_logging_a_phone_call_has_responded(
    client: TestClient, cast: Cast, advance: Any
) -> None:
    number = new_incident(client, cast.alice, caller_id=cast.dave.id, channel="phone")["number"]
    assert clocks(client, cast.bob, number)["response"]["state"] == "met"
    emailed = new_incident(client, cast.alice, caller_id=cast.dave.id, channel="email")["number"]
    assert clocks(client, cast.bob, emailed)["response"]["state"] == "running"


def test_a_priority_change_during_a_pause(client: TestClient, cast: Cast, advance: Any) -> None:
    number = new_incident(client, cast.alice, caller_id=cast.dave.id)["number"]
    advance(timedelta(hours=3))
    act(client, cast.alice, number, "pend", target="pending_vendor", reason="RMA")
    advance(timedelta(hours=5))
    etag = client.get(f"{API}/incidents/{number}", headers=cast.alice.headers).headers["etag"]
    client.patch(
        f"{API}/incidents/{number}",
        json={"impact": 1, "urgency": 1},
        headers={**cast.alice.headers, "If-Match": etag},
    )
    paused = clocks(client, cast.bob, number)["resolution"]
    assert (paused["state"], paused["target_seconds"], paused["elapsed_seconds"]) == (
        "paused",
        4 * H,
        3 * H,
    )
    advance(timedelta(hours=2))
    act(client, cast.alice, number, "resume")
    running = clocks(client, cast.bob, number)["resolution"]
    assert iso(running["due_at"]) == T0 + timedelta(hours=10 + 1)  # 3 h used of 4


def test_a_reopen_continues_the_resolution_clock(
    client: TestClient, cast: Cast, advance: Any
) -> None:
    number = new_incident(client, cast.alice, caller_id=cast.dave.id, category_id=cast.hardware.id)[
        "number"
    ]
    advance(timedelta(hours=5))
    resolved = act(
        client,
        cast.alice,
        number,
        "resolve",
        resolution_code="fixed",
        resolution_notes="restarted",
        is_workaround=False,
    )
    assert resolved.status_code == 200, resolved.text
    met = clocks(client, cast.bob, number)["resolution"]
    assert (met["state"], met["elapsed_seconds"]) == ("met", 5 * H)
    advance(timedelta(days=3))  # far beyond the 24 h target: the resolved time must not count
    assert act(client, cast.dave, number, "reopen", reason="still broken").status_code == 200
    again = clocks(client, cast.bob, number)["resolution"]
    assert (again["state"], again["elapsed_seconds"]) == ("running", 5 * H)
    assert iso(again["due_at"]) == T0 + timedelta(days=3, hours=5 + 19)
    reopened = [e for e in events(client, cast.bob, number) if e["rule_id"] == "CLK-O"]
    assert len(reopened) == 1


def test_a_reopen_after_a_long_pause(client: TestClient, cast: Cast, advance: Any) -> None:
    number = new_incident(client, cast.alice, caller_id=cast.dave.id, category_id=cast.hardware.id)[
        "number"
    ]
    advance(timedelta(hours=1))
    act(client, cast.alice, number, "pend", target="pending_user", reason="holiday")
    advance(timedelta(days=20))
    act(client, cast.alice, number, "resume")
    advance(timedelta(hours=1))
    act(
        client,
        cast.alice,
        number,
        "resolve",
        resolution_code="fixed",
        resolution_notes="ok",
        is_workaround=True,
    )
    advance(timedelta(days=2))
    act(client, cast.dave, number, "reopen", reason="came back")
    again = clocks(client, cast.bob, number)["resolution"]
    assert (again["state"], again["elapsed_seconds"]) == ("running", 2 * H)


def test_cancel_cancels_the_clocks(client: TestClient, cast: Cast, advance: Any) -> None:
    number = new_incident(client, cast.dave)["number"]
    assert act(client, cast.alice, number, "cancel", reason="duplicate").status_code == 200
    found = clocks(client, cast.bob, number)
    assert found["response"]["state"] == found["resolution"]["state"] == "cancelled"
    assert all(c["due_at"] is None for c in found.values())


def test_an_ola_runs_for_the_assigned_group_and_stops_on_reassignment(
    client: TestClient, cast: Cast, advance: Any
) -> None:
    ola = client.post(
        f"{API}/admin/sla/olas",
        json={"group_id": cast.desk.id, "resolution_seconds": 2 * H},
        headers=cast.bob.headers,
    )
    assert ola.status_code == 201, ola.text
    number = new_incident(
        client, cast.alice, caller_id=cast.dave.id, assignment_group_id=cast.desk.id
    )["number"]
    desk = f"ola:{cast.desk.id}"
    assert iso(clocks(client, cast.bob, number)[desk]["due_at"]) == T0 + timedelta(hours=2)
    advance(timedelta(hours=3))
    assert act(client, cast.alice, number, "escalate", group_id=cast.apps.id).status_code == 200
    stopped = clocks(client, cast.bob, number)[desk]
    assert stopped["state"] == "breached" and stopped["stopped_at"] is not None


# ----------------------------------------------------------------- a business calendar

BERLIN_OFFICE = {
    "timezone": "Europe/Berlin",
    "hours": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": {"country": "DE"},
}


def test_pending_over_a_weekend_with_a_holiday(client: TestClient, cast: Cast) -> None:
    """8 business hours; 1 h used Friday afternoon, pending over Saturday, Sunday and Whit
    Monday (a German holiday), resumed Tuesday 10:00: 7 h are left, due Tuesday 17:00."""
    bob = cast.bob.headers
    office = client.post(
        f"{API}/admin/sla/calendars",
        json={"name": "Berlin office", "config": BERLIN_OFFICE},
        headers=bob,
    )
    assert office.status_code == 201, office.text
    policy = client.post(
        f"{API}/admin/sla/policies",
        json={
            "name": "Acme business hours",
            "customer_id": cast.acme.id,
            "calendar_id": office.json()["id"],
            "response_seconds": 2 * H,
            "resolution_seconds": 8 * H,
        },
        headers=bob,
    )
    assert policy.status_code == 201, policy.text
    friday = datetime(2026, 5, 22, 14, 0, tzinfo=UTC)  # 16:00 in Berlin (CEST)
    with clock.frozen(friday) as move:
        number = new_incident(client, cast.alice, caller_id=cast.dave.id)["number"]
        resolution = clocks(client, cast.bob, number)["resolution"]
        assert resolution["policy"] == "Acme business hours"
        # 1 h Friday, then Tuesday 09:00–16:00 CEST (Monday is Whit Monday).
        assert iso(resolution["due_at"]) == datetime(2026, 5, 26, 14, 0, tzinfo=UTC)
        move(timedelta(minutes=50))
        act(client, cast.alice, number, "pend", target="pending_user", reason="weekend")
        move(datetime(2026, 5, 26, 8, 0, tzinfo=UTC) - friday - timedelta(minutes=50))
        act(client, cast.alice, number, "resume")
        resumed = clocks(client, cast.bob, number)["resolution"]
        assert resumed["elapsed_seconds"] == 50 * 60
        # Tuesday 10:00 CEST + 7 h 10 min of office time = Tuesday 17:10 → Wednesday 09:10.
        assert iso(resumed["due_at"]) == datetime(2026, 5, 27, 7, 10, tzinfo=UTC)


def test_a_bad_calendar_or_policy_is_refused_with_the_reason(
    client: TestClient, cast: Cast
) -> None:
    bob = cast.bob.headers
    bad = client.post(
        f"{API}/admin/sla/calendars",
        json={"name": "Mars", "config": {"timezone": "Mars/Olympus", "hours": {}}},
        headers=bob,
    )
    assert bad.status_code == 422
    assert "Mars/Olympus" in bad.json()["errors"][0]["msg"]
    no_target = client.post(f"{API}/admin/sla/policies", json={"name": "Empty"}, headers=bob)
    assert no_target.status_code == 422
    ghost = client.post(
        f"{API}/admin/sla/policies",
        json={
            "name": "Ghost",
            "customer_id": 999999,
            "resolution_seconds": 60,
            "warn_percents": [150],
        },
        headers=bob,
    )
    assert ghost.status_code == 422
    assert {e["field"] for e in ghost.json()["errors"]} == {"customer_id", "warn_percents"}
    last_default = client.patch(f"{API}/admin/sla/policies/6", json={"active": False}, headers=bob)
    assert last_default.status_code == 409, last_default.text


# ----------------------------------------------------------------- the worker


def test_warnings_and_breaches_fire_once_each(
    client: TestClient, cast: Cast, db: Database, settings: Settings, advance: Any
) -> None:
    number = new_incident(client, cast.dave)["number"]
    assert fire_due(db, settings, clock.now()).done == 0
    advance(timedelta(hours=2, seconds=1))  # response 4 h: 50 %
    assert fire_due(db, settings, clock.now()).done == 1
    assert fire_due(db, settings, clock.now()).done == 0  # nothing twice
    advance(timedelta(hours=10))  # 12 h: response breached (and 75 % passed), resolution 50 %
    assert fire_due(db, settings, clock.now()).done == 2
    advance(timedelta(hours=12))  # 24 h: the resolution's 75 % passed too; breach fires alone
    assert fire_due(db, settings, clock.now()).done == 1
    assert fire_due(db, settings, clock.now()).done == 0
    fired = [
        (e["field"], e["kind"], e["new"]["percent"], e["new"]["late"])
        for e in events(client, cast.bob, number)
        if e["kind"] in ("sla_warning", "sla_breached")
    ]
    assert fired == [
        ("sla.response", "sla_warning", 50, False),
        ("sla.response", "sla_breached", 100, True),  # found 8 h late: one firing, marked late
        ("sla.resolution", "sla_warning", 50, False),
        ("sla.resolution", "sla_breached", 100, False),
    ]
    found = clocks(client, cast.bob, number)
    assert found["response"]["state"] == found["resolution"]["state"] == "breached"
    assert iso(found["response"]["breached_at"]) == T0 + timedelta(hours=4)


def test_a_claim_that_lost_the_race_changes_nothing(
    client: TestClient, cast: Cast, db: Database, advance: Any
) -> None:
    new_incident(client, cast.dave)
    advance(timedelta(days=2))
    with db.unit_of_work() as session:
        due = due_clocks(session, clock.now(), 10)
        assert len(due) == 2
        clock_id, seen = due[0]
        assert claim(session, clock_id, seen) is True
        assert claim(session, clock_id, seen) is False  # the second worker's claim


def test_a_breach_notifies_the_assignee_and_the_group_manager_once(
    client: TestClient, cast: Cast, db: Database, settings: Settings, advance: Any
) -> None:
    number = new_incident(
        client,
        cast.bob,
        caller_id=cast.dave.id,
        assignment_group_id=cast.desk.id,
        assignee_id=cast.alice.id,
    )["number"]
    advance(timedelta(hours=25))
    fire_due(db, settings, clock.now())
    fire_due(db, settings, clock.now())
    with db.unit_of_work(write=False) as s:
        rows = s.execute(
            select(Notification.event, Notification.recipient_user_id)
            .join(Incident, Incident.id == Notification.incident_id)
            .where(Incident.number == number, Notification.event.like("sla_%"))
        ).all()
    assert sorted(rows) == [("sla_breached", cast.alice.id)]
