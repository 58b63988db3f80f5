"""Functional escalation: along the path by hand or on demand, to a named higher tier, and
automatically when the group's OLA (the first-point resolution target) breaches."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.kernel import clock
from dutydesk.sla import jobs as sla_jobs
from tests.escalation.conftest import (
    API,
    H,
    escalations,
    events,
    make_path,
    notified,
    ok,
    read,
    set_manager,
    tick,
)
from tests.factories import Cast, act, new_incident


def desk_incident(client: TestClient, cast: Cast, **fields: Any) -> str:
    body = {"caller_id": cast.dave.id, "assignment_group_id": cast.desk.id, **fields}
    return str(new_incident(client, cast.alice, **body)["number"])


def test_escalate_without_a_group_follows_the_path(
    client: TestClient, cast: Cast, db: Database, advance: Any
) -> None:
    path = make_path(client, cast)
    set_manager(client, cast, cast.apps.id, cast.eve)
    number = desk_incident(client, cast)
    moved = ok(act(client, cast.alice, number, "escalate", reason="needs the ERP team"))
    assert moved["assignment_group_id"] == cast.apps.id
    assert (moved["reassignment_count"], moved["escalation_level"]) == (1, 2)
    [row] = escalations(client, cast.bob, number)
    assert (row["kind"], row["trigger"], row["rule_id"]) == (
        "functional",
        "manual",
        f"EP-{path['id']}.2",
    )
    assert (row["path_id"], row["step"]) == (path["id"], 2)
    assert (row["from_group_id"], row["to_group_id"]) == (cast.desk.id, cast.apps.id)
    assert (row["actor_name"], row["reason"]) == ("alice", "needs the ERP team")
    logged = events(client, cast.bob, number, "escalated_functional", "field_changed")
    assert [(e["kind"], e["field"], e["rule_id"]) for e in logged][-3:] == [
        ("field_changed", "assignment_group_id", "ESC-2"),
        ("field_changed", "escalation_level", "ESC-2"),
        ("escalated_functional", "escalation", f"EP-{path['id']}.2"),
    ]
    assert notified(db, number) == [cast.eve.id]  # the new group's manager
    assert read(client, cast.bob, number)["escalations"][0]["rule_id"] == f"EP-{path['id']}.2"
    for group, step in ((cast.infra, 3), (cast.vendor, 4)):
        again = ok(act(client, cast.bob, number, "escalate"))
        assert again["assignment_group_id"] == group.id
        assert escalations(client, cast.bob, number)[-1]["rule_id"] == f"EP-{path['id']}.{step}"
    assert again["reassignment_count"] == 3
    end = act(client, cast.bob, number, "escalate")
    assert end.status_code == 422 and end.json()["errors"][0]["field"] == "group_id"


def test_the_most_specific_path_is_taken(client: TestClient, cast: Cast, advance: Any) -> None:
    make_path(client, cast)
    hardware = make_path(
        client,
        cast,
        name="Hardware",
        category_id=cast.hardware.id,
        steps=[
            {"level": 1, "group_id": cast.desk.id},
            {"level": 2, "group_id": cast.infra.id},
        ],
    )
    laptop = desk_incident(
        client, cast, category_id=cast.hardware.id, subcategory_id=cast.laptop.id
    )
    assert ok(act(client, cast.alice, laptop, "escalate"))["assignment_group_id"] == cast.infra.id
    assert escalations(client, cast.bob, laptop)[0]["rule_id"] == f"EP-{hardware['id']}.2"
    other = desk_incident(client, cast)
    assert ok(act(client, cast.alice, other, "escalate"))["assignment_group_id"] == cast.apps.id


def test_a_named_group_must_be_a_higher_tier_and_is_logged_with_the_transition(
    client: TestClient, cast: Cast, advance: Any
) -> None:
    number = desk_incident(client, cast)
    no_path = act(client, cast.alice, number, "escalate")
    assert no_path.status_code == 422 and no_path.json()["errors"][0]["field"] == "group_id"
    assert act(client, cast.alice, number, "escalate", group_id=cast.desk.id).status_code == 422
    moved = ok(act(client, cast.alice, number, "escalate", group_id=cast.infra.id))
    assert (moved["escalation_level"], moved["reassignment_count"]) == (3, 1)
    [row] = escalations(client, cast.bob, number)
    assert (row["rule_id"], row["path_id"], row["to_group_id"]) == ("ESC-2", None, cast.infra.id)


def test_functional_escalation_on_demand(
    client: TestClient, cast: Cast, settings: Settings, advance: Any
) -> None:
    url = f"{API}/incidents/{{}}/escalations"
    number = desk_incident(client, cast)
    body = {"kind": "functional", "reason": "beyond the desk"}
    no_path = client.post(url.format(number), json=body, headers=cast.alice.headers)
    assert no_path.status_code == 409 and "no escalation path" in no_path.text
    path = make_path(client, cast)
    wrong = client.post(
        url.format(number), json={**body, "level_id": 1}, headers=cast.alice.headers
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "level_id"
    assert client.post(url.format(number), json=body, headers=cast.dave.headers).status_code == 403
    stale = client.post(
        url.format(number), json=body, headers={**cast.alice.headers, "If-Match": '"999"'}
    )
    assert stale.status_code == 412
    row = ok(client.post(url.format(number), json=body, headers=cast.alice.headers), 201)
    assert (row["kind"], row["rule_id"], row["to_group_id"]) == (
        "functional",
        f"EP-{path['id']}.2",
        cast.apps.id,
    )
    assert read(client, cast.bob, number)["assignment_group_id"] == cast.apps.id


# ----------------------------------------------------------------------------- automatic


def desk_ola(client: TestClient, cast: Cast, hours: int = 2) -> None:
    ok(
        client.post(
            f"{API}/admin/sla/olas",
            json={"group_id": cast.desk.id, "resolution_seconds": hours * H},
            headers=cast.bob.headers,
        ),
        201,
    )


def test_an_ola_breach_escalates_to_the_next_step_once(
    client: TestClient, cast: Cast, db: Database, settings: Settings, advance: Any
) -> None:
    path = make_path(client, cast)
    desk_ola(client, cast)
    number = desk_incident(client, cast)
    advance(timedelta(hours=1))
    assert tick(db, settings) == (1, 0)  # the OLA's 50 % warning: no escalation
    assert read(client, cast.bob, number)["assignment_group_id"] == cast.desk.id
    advance(timedelta(hours=1, seconds=1))
    assert tick(db, settings) == (1, 0)  # the breach, and the escalation with it
    body = read(client, cast.bob, number)
    assert (body["assignment_group_id"], body["reassignment_count"]) == (cast.apps.id, 1)
    [row] = body["escalations"]
    assert (row["trigger"], row["rule_id"], row["actor_name"], row["late"]) == (
        "automatic",
        f"EP-{path['id']}.2",
        "escalation",
        False,
    )
    assert "OLA was breached" in row["reason"]
    kinds = [
        e["kind"] for e in events(client, cast.bob, number, "sla_breached", "escalated_functional")
    ]
    assert kinds == ["sla_breached", "escalated_functional"]
    desk = next(c for c in body["sla"] if c["kind"] == "ola")
    assert (desk["state"], desk["stopped_at"] is not None) == ("breached", True)
    assert notified(db, number, "assigned")[-1] == cast.eve.id  # the new group is told
    advance(timedelta(hours=5))
    assert tick(db, settings) == (0, 0)  # nothing twice
    assert len(escalations(client, cast.bob, number)) == 1


def test_a_step_without_auto_stays_put_and_a_late_breach_escalates_marked_late(
    client: TestClient, cast: Cast, db: Database, settings: Settings, advance: Any
) -> None:
    manual = make_path(
        client,
        cast,
        steps=[{"level": 1, "group_id": cast.desk.id}, {"level": 2, "group_id": cast.apps.id}],
    )
    desk_ola(client, cast)
    number = desk_incident(client, cast)
    advance(timedelta(hours=3))
    tick(db, settings)
    assert read(client, cast.bob, number)["assignment_group_id"] == cast.desk.id
    ok(
        client.patch(
            f"{API}/admin/escalation/paths/{manual['id']}",
            json={
                "steps": [
                    {"level": 1, "group_id": cast.desk.id, "auto": True},
                    {"level": 2, "group_id": cast.apps.id},
                ]
            },
            headers=cast.bob.headers,
        )
    )
    later = desk_incident(client, cast)
    advance(timedelta(hours=10))  # the worker was down: found 8 h late
    with db.unit_of_work() as session:
        due = sla_jobs.due_clocks(session, clock.now(), 50)
    assert tick(db, settings)[0] == len(due)
    [row] = escalations(client, cast.bob, later)
    assert (row["trigger"], row["late"]) == ("automatic", True)
    assert read(client, cast.bob, number)["assignment_group_id"] == cast.desk.id  # breached before
