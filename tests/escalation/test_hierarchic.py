"""Hierarchic escalation: levels fire once at their instant (percent or business delay),
pauses postpone them, late ones fire once marked late, on demand, and who is told."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.models import Incident
from tests.escalation.conftest import (
    API,
    T0,
    escalations,
    events,
    make_level,
    notified,
    ok,
    read,
    set_manager,
    tick,
)
from tests.factories import Cast, act, new_incident


def schedule_of(db: Database, number: str) -> datetime | None:
    with db.unit_of_work(write=False) as s:
        return s.scalar(select(Incident.escalation_check_at).where(Incident.number == number))


def desk_incident(client: TestClient, cast: Cast, **fields: Any) -> str:
    body = {"caller_id": cast.dave.id, "assignment_group_id": cast.desk.id, **fields}
    return str(new_incident(client, cast.alice, **body)["number"])


def test_a_percent_level_fires_once_at_its_instant_and_tells_the_right_people(
    client: TestClient, cast: Cast, db: Database, settings: Settings, advance: Any
) -> None:
    set_manager(client, cast, cast.desk.id, cast.alice)
    level = make_level(
        client,
        cast,
        name="Managers at 75 %",
        percent=75,
        priority=3,
        notify_incident_managers=True,
        notify_user_ids=[cast.eve.id, cast.bob.id],  # eve may not see Acme's desk incident
    )
    number = desk_incident(client, cast)
    assert schedule_of(db, number) == T0 + timedelta(hours=18)  # 75 % of 24 h
    advance(timedelta(hours=17, minutes=59))
    assert tick(db, settings)[1] == 0
    advance(timedelta(minutes=1))
    assert tick(db, settings)[1] == 1
    [row] = escalations(client, cast.bob, number)
    assert (row["kind"], row["trigger"], row["rule_id"], row["late"]) == (
        "hierarchic",
        "automatic",
        f"HL-{level['id']}",
        False,
    )
    assert row["notified_user_ids"] == [cast.alice.id, cast.ivy.id, cast.bob.id]
    assert row["reason"] == "Managers at 75 %: 75 % of the resolution target used"
    [event] = events(client, cast.bob, number, "escalated_hierarchic")
    assert event["rule_id"] == f"HL-{level['id']}" and event["actor_name"] == "escalation"
    assert event["new"]["notified"] == ["alice", "ivy", "bob"]
    assert sorted(notified(db, number)) == sorted([cast.alice.id, cast.ivy.id, cast.bob.id])
    assert schedule_of(db, number) is None  # nothing left to fire
    advance(timedelta(days=3))
    assert tick(db, settings)[1] == 0
    assert len(escalations(client, cast.bob, number)) == 1
    assert len(notified(db, number)) == 3  # each notification once


def test_a_delay_level_waits_while_the_incident_is_pending(
    client: TestClient, cast: Cast, db: Database, settings: Settings, advance: Any
) -> None:
    make_level(client, cast, delay_seconds=4 * 3600, notify_incident_managers=True)
    number = desk_incident(client, cast)
    assert schedule_of(db, number) == T0 + timedelta(hours=4)
    advance(timedelta(hours=1))
    ok(act(client, cast.alice, number, "pend", target="pending_user", reason="logs?"))
    assert schedule_of(db, number) is None  # the resolution clock stopped: no instant
    advance(timedelta(hours=10))
    assert tick(db, settings)[1] == 0
    ok(act(client, cast.alice, number, "resume"))
    assert schedule_of(db, number) == T0 + timedelta(hours=14)  # 1 h used, 3 h to go
    advance(timedelta(hours=3))
    assert tick(db, settings)[1] == 1
    assert escalations(client, cast.bob, number)[0]["notified_user_ids"] == [cast.ivy.id]


def test_a_priority_change_reschedules_and_other_priorities_do_not_apply(
    client: TestClient, cast: Cast, db: Database, settings: Settings, advance: Any
) -> None:
    make_level(client, cast, name="P1 half time", percent=50, priority=1)
    make_level(client, cast, name="Apps only", percent=10, group_id=cast.apps.id)
    number = desk_incident(client, cast)
    assert schedule_of(db, number) is None  # P3 at the desk: neither level applies
    advance(timedelta(hours=1))
    etag = client.get(f"{API}/incidents/{number}", headers=cast.alice.headers).headers["etag"]
    patched = client.patch(
        f"{API}/incidents/{number}",
        json={"impact": 1, "urgency": 1},
        headers={**cast.alice.headers, "If-Match": etag},
    )
    assert patched.json()["priority"] == 1
    assert schedule_of(db, number) == T0 + timedelta(hours=2)  # 1 h used of P1's 4 h
    advance(timedelta(hours=1))
    assert tick(db, settings)[1] == 1
    assert [e["level_id"] for e in escalations(client, cast.bob, number)] == [
        next(
            lvl["id"]
            for lvl in ok(client.get(f"{API}/admin/escalation/levels", headers=cast.bob.headers))
            if lvl["name"] == "P1 half time"
        )
    ]


def test_levels_found_late_fire_once_each_marked_late(
    client: TestClient, cast: Cast, db: Database, settings: Settings, advance: Any
) -> None:
    first = make_level(client, cast, name="A quarter", percent=25, notify_incident_managers=True)
    second = make_level(client, cast, name="A half", percent=50, notify_incident_managers=True)
    number = desk_incident(client, cast)
    advance(timedelta(hours=20))  # the worker was down since before 6 h
    assert tick(db, settings)[1] == 1  # one incident, both levels
    rows = escalations(client, cast.bob, number)
    assert [(r["level_id"], r["late"]) for r in rows] == [
        (first["id"], True),
        (second["id"], True),
    ]
    assert "fired 50400 s late" in rows[0]["reason"]
    assert notified(db, number) == [cast.ivy.id, cast.ivy.id]  # one per level
    assert tick(db, settings)[1] == 0


def test_a_level_added_later_applies_to_open_incidents(
    client: TestClient, cast: Cast, db: Database, settings: Settings, advance: Any
) -> None:
    number = desk_incident(client, cast, category_id=cast.hardware.id)
    done = desk_incident(client, cast, category_id=cast.hardware.id)
    ok(
        act(
            client,
            cast.alice,
            done,
            "resolve",
            resolution_code="fixed",
            resolution_notes="replaced",
            is_workaround=False,
        )
    )
    advance(timedelta(hours=13))
    make_level(client, cast, name="Half", percent=50, notify_incident_managers=True)
    assert schedule_of(db, number) == T0 + timedelta(hours=13)  # to be looked at now
    assert schedule_of(db, done) is None
    assert tick(db, settings)[1] == 1
    [row] = escalations(client, cast.bob, number)
    assert row["late"] is True  # its instant (12 h) passed before the level existed
    assert escalations(client, cast.bob, done) == []


def test_hierarchic_escalation_on_demand(
    client: TestClient, cast: Cast, db: Database, settings: Settings, advance: Any
) -> None:
    url = f"{API}/incidents/{{}}/escalations"
    set_manager(client, cast, cast.desk.id, cast.bob)
    level = make_level(
        client,
        cast,
        name="Half",
        percent=50,
        notify_group_manager=False,
        notify_user_ids=[cast.ivy.id],
    )
    number = desk_incident(client, cast)
    body = {"kind": "hierarchic", "reason": "the customer's CEO called"}
    no_reason = client.post(
        url.format(number), json={"kind": "hierarchic"}, headers=cast.alice.headers
    )
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    assert client.post(url.format(number), json=body, headers=cast.dave.headers).status_code == 403
    assert client.post(url.format(number), json=body, headers=cast.carol.headers).status_code == 404
    row = ok(client.post(url.format(number), json=body, headers=cast.alice.headers), 201)
    assert (row["rule_id"], row["trigger"], row["actor_name"]) == ("HL-D", "manual", "alice")
    assert row["notified_user_ids"] == [cast.bob.id, cast.ivy.id]  # group manager, managers
    unknown = client.post(
        url.format(number), json={**body, "level_id": 999999}, headers=cast.alice.headers
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "level_id"
    fired = ok(
        client.post(
            url.format(number), json={**body, "level_id": level["id"]}, headers=cast.alice.headers
        ),
        201,
    )
    assert (fired["rule_id"], fired["notified_user_ids"]) == (f"HL-{level['id']}", [cast.ivy.id])
    assert schedule_of(db, number) is None  # fired on demand: it will not fire by itself
    advance(timedelta(hours=13))
    assert tick(db, settings)[1] == 0
    assert len(notified(db, number)) == 3  # bob, ivy (HL-D), ivy (the level)
    assert client.get(url.format(number), headers=cast.dave.headers).status_code == 403
    assert read(client, cast.dave, number)["escalations"] is None
    assert len(read(client, cast.alice, number)["escalations"]) == 2
    ok(act(client, cast.alice, number, "cancel", reason="duplicate"))
    closed = client.post(url.format(number), json=body, headers=cast.alice.headers)
    assert closed.status_code == 409


def test_a_resolution_breach_raises_the_priority_when_the_policy_says_so(
    client: TestClient, cast: Cast, db: Database, settings: Settings, advance: Any
) -> None:
    policies = ok(client.get(f"{API}/admin/sla/policies", headers=cast.bob.headers))
    for p in policies:
        if p["name"] in ("Default P3", "Default P1"):
            ok(
                client.patch(
                    f"{API}/admin/sla/policies/{p['id']}",
                    json={"raise_priority_on_breach": True},
                    headers=cast.bob.headers,
                )
            )
    p3 = desk_incident(client, cast)
    p1 = desk_incident(client, cast, impact=1, urgency=1)
    advance(timedelta(hours=24, seconds=1))
    tick(db, settings)
    raised = read(client, cast.bob, p3)
    assert raised["priority"] == 2
    [change] = [
        e for e in events(client, cast.bob, p3, "priority_changed") if e["rule_id"] == "PRI-3"
    ]
    assert (change["old"], change["new"]) == (3, 2) and "Default P3" in change["reason"]
    resolution = next(c for c in raised["sla"] if c["kind"] == "resolution")
    assert (resolution["policy"], resolution["target_seconds"]) == ("Default P2", 8 * 3600)
    assert resolution["state"] == "breached"
    assert read(client, cast.bob, p1)["priority"] == 1  # never above P1
    advance(timedelta(days=2))
    tick(db, settings)
    assert read(client, cast.bob, p3)["priority"] == 2  # once: the clock breached once


def test_recomputing_a_schedule_leaves_the_incident_version_alone(
    client: TestClient, cast: Cast, db: Database, settings: Settings, advance: Any
) -> None:
    number = desk_incident(client, cast)
    version = read(client, cast.bob, number)["version"]
    make_level(client, cast, percent=90)  # every open incident is looked at again
    assert schedule_of(db, number) == T0
    assert tick(db, settings)[1] == 1  # claimed; nothing due yet
    assert schedule_of(db, number) == T0 + timedelta(hours=21, minutes=36)  # 90 % of 24 h
    assert read(client, cast.bob, number)["version"] == version  # no ETag goes stale
    assert escalations(client, cast.bob, number) == []
