"""Assignment within a group: manual, round robin, least loaded; unavailable members are
skipped; every automatic assignment is logged with its reason; and both strategies hold
under concurrent creation on a database that really commits (both backends)."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dutydesk.access.policy import system_actor
from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.incidents import service as incidents
from dutydesk.incidents.history import verify_chains
from dutydesk.incidents.schemas import IncidentCreate
from dutydesk.models import Incident
from dutydesk.people import queries as people_queries
from dutydesk.people import service as people
from dutydesk.routing import service as routing
from dutydesk.routing.strategies import Strategy, weight
from tests.factories import Cast, make_cast, make_person, new_incident
from tests.routing.common import API, contains, events, make_rule, problem

GROUPS = f"{API}/admin/routing/groups"


def _crew(db: Database, cast: Cast, n: int = 3) -> list[int]:
    """The desk's members: alice and n-1 more agents; their ids in order."""
    with db.unit_of_work() as s:
        for i in range(n - 1):
            agent = make_person(s, f"agent{i}", "agent")
            people.add_member(s, system_actor(), cast.desk, agent.user)
        s.flush()
    return sorted([cast.alice.id, *_member_ids(db, cast)])


def _member_ids(db: Database, cast: Cast) -> list[int]:
    with db.unit_of_work(write=False) as s:
        return [
            u for u in people_queries.list_group_member_ids(s, cast.desk.id) if u != cast.alice.id
        ]


def _set(client: TestClient, cast: Cast, strategy: str) -> dict[str, Any]:
    r = client.put(
        f"{GROUPS}/{cast.desk.id}", json={"strategy": strategy}, headers=cast.bob.headers
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def _to_desk(client: TestClient, cast: Cast, **fields: Any) -> dict[str, Any]:
    return new_incident(
        client, cast.ivy, caller_id=cast.dave.id, assignment_group_id=cast.desk.id, **fields
    )


def test_round_robin_takes_turns_and_skips_the_unavailable(
    client: TestClient, cast: Cast, db: Database
) -> None:
    crew = _crew(db, cast)
    assert _to_desk(client, cast)["assignee_id"] is None  # manual by default
    read = _set(client, cast, "round_robin")
    assert read["strategy"] == "round_robin" and read["available_member_ids"] == crew
    got = [_to_desk(client, cast)["assignee_id"] for _ in range(4)]
    assert got == [crew[0], crew[1], crew[2], crew[0]]
    r = client.patch(
        f"{API}/admin/users/{crew[1]}", json={"is_available": False}, headers=cast.bob.headers
    )
    assert r.status_code == 200, r.text
    made = _to_desk(client, cast)
    assert made["assignee_id"] == crew[2] and made["state"] == "assigned"
    auto = [e for e in events(client, cast.bob, made["number"]) if e["kind"] == "auto_assigned"]
    assert len(auto) == 1 and auto[0]["rule_id"] == "RTE-RR" and auto[0]["new"] == crew[2]
    assert "round robin" in auto[0]["reason"] and "Service Desk" in auto[0]["reason"]
    changed = [e for e in events(client, cast.bob, made["number"]) if e["field"] == "assignee_id"]
    assert changed[-1]["kind"] == "field_changed" and changed[-1]["rule_id"] == "RTE-RR"


def test_least_loaded_weighs_open_incidents_by_priority(
    client: TestClient, cast: Cast, db: Database
) -> None:
    crew = _crew(db, cast)
    # crew[0] holds one P1 (weight 5), crew[1] two P4s (weight 4), crew[2] nothing yet
    new_incident(
        client,
        cast.ivy,
        caller_id=cast.dave.id,
        impact=1,
        urgency=1,
        assignment_group_id=cast.desk.id,
        assignee_id=crew[0],
    )
    for _ in range(2):
        new_incident(
            client,
            cast.ivy,
            caller_id=cast.dave.id,
            impact=2,
            urgency=3,
            assignment_group_id=cast.desk.id,
            assignee_id=crew[1],
        )
    _set(client, cast, "least_loaded")
    first = _to_desk(client, cast, impact=1, urgency=1)  # crew[2]: 0 → 5
    assert first["assignee_id"] == crew[2]
    second = _to_desk(client, cast, impact=3, urgency=3)  # crew[1] (4) < crew[0] = crew[2] (5)
    assert second["assignee_id"] == crew[1]
    auto = [e for e in events(client, cast.bob, second["number"]) if e["kind"] == "auto_assigned"]
    assert auto[0]["rule_id"] == "RTE-LL" and "weighted load 4" in auto[0]["reason"]
    third = _to_desk(client, cast, impact=3, urgency=3)  # 5, 5, 5: fewest incidents → crew[0]
    assert third["assignee_id"] == crew[0]


def test_nobody_available_leaves_it_unassigned_and_says_why(client: TestClient, cast: Cast) -> None:
    _set(client, cast, "least_loaded")
    r = client.patch(
        f"{API}/admin/users/{cast.alice.id}", json={"is_available": False}, headers=cast.bob.headers
    )
    assert r.status_code == 200
    made = _to_desk(client, cast)
    assert made["assignee_id"] is None and made["assignment_group_id"] == cast.desk.id
    skipped = [
        e for e in events(client, cast.bob, made["number"]) if e["kind"] == "auto_assign_skipped"
    ]
    assert len(skipped) == 1 and "no member of the group is available" in skipped[0]["reason"]


def test_a_rule_picks_the_group_and_the_strategy_the_person(
    client: TestClient, cast: Cast, db: Database
) -> None:
    crew = _crew(db, cast, n=2)
    _set(client, cast, "round_robin")
    make_rule(
        client,
        cast.bob,
        name="Passwords to the desk",
        conditions=contains("short_description", "password"),
        actions=[{"type": "assign_group", "value": cast.desk.id}],
    )
    made = new_incident(client, cast.dave, short_description="Password expired")
    assert made["assignment_group_id"] == cast.desk.id and made["assignee_id"] == crew[0]
    kinds = [e["kind"] for e in events(client, cast.bob, made["number"])]
    assert kinds.index("rule_fired") < kinds.index("auto_assigned")


def test_only_admins_set_a_strategy(client: TestClient, cast: Cast) -> None:
    body = {"strategy": "round_robin"}
    problem(client.put(f"{GROUPS}/{cast.desk.id}", json=body, headers=cast.alice.headers), 403)
    problem(
        client.put(
            f"{GROUPS}/{cast.desk.id}", json={"strategy": "random"}, headers=cast.bob.headers
        ),
        422,
    )
    problem(client.put(f"{GROUPS}/99999", json=body, headers=cast.bob.headers), 404)
    assert (
        client.get(f"{GROUPS}/{cast.desk.id}", headers=cast.alice.headers).json()["strategy"]
        == "manual"
    )
    problem(client.get(f"{GROUPS}/{cast.desk.id}", headers=cast.dave.headers), 403)


# ----------------------------------------------------------------- under concurrent creation

WORKERS = 6
PER_WORKER = 6


def _race(db: Database, cast: Cast, strategy: Strategy, priorities: list[int]) -> list[Incident]:
    with db.unit_of_work() as s:
        for i in range(3):
            agent = make_person(s, f"racer{i}", "agent")
            people.add_member(s, system_actor(), cast.desk, agent.user)
        routing.set_group_strategy(s, system_actor(), cast.desk.id, strategy)
    settings = Settings(database_url="sqlite://")

    def create(n: int) -> None:
        for k in range(PER_WORKER):
            level = priorities[(n * PER_WORKER + k) % len(priorities)]
            data = IncidentCreate(
                short_description=f"race {n}.{k}",
                caller_id=cast.dave.id,
                impact=level,
                urgency=level,
                assignment_group_id=cast.desk.id,
            )
            with db.unit_of_work() as s:
                incidents.open_incident(s, system_actor(channel="api"), data, settings=settings)

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(create, range(WORKERS)))
    with db.unit_of_work(write=False) as s:
        assert list(verify_chains(s)) == []
        rows = list(s.scalars(select(Incident)))
        s.expunge_all()
    return rows


@pytest.mark.parametrize("strategy", [Strategy.round_robin, Strategy.least_loaded])
def test_concurrent_creation_spreads_evenly(fresh_db: Database, strategy: Strategy) -> None:
    cast = make_cast(fresh_db)
    rows = _race(fresh_db, cast, strategy, priorities=[3])
    assert len(rows) == WORKERS * PER_WORKER and all(r.assignee_id for r in rows)
    counts = Counter(r.assignee_id for r in rows)
    assert len(counts) == 4  # alice and the three racers
    assert max(counts.values()) - min(counts.values()) <= 1, counts


def test_concurrent_least_loaded_balances_weighted_load(fresh_db: Database) -> None:
    cast = make_cast(fresh_db)
    rows = _race(fresh_db, cast, Strategy.least_loaded, priorities=[1, 3, 2, 3, 1, 2])
    load = Counter[int]()
    for r in rows:
        assert r.assignee_id is not None
        load[r.assignee_id] += weight(r.priority)
    assert len(load) == 4
    # each pick goes to the lightest member, so no one ends more than one heaviest
    # incident (P1 = 5) above anyone else
    assert max(load.values()) - min(load.values()) <= weight(1), load


def test_a_rule_on_update_moves_the_group_and_the_strategy_assigns(
    client: TestClient, cast: Cast, db: Database
) -> None:
    crew = _crew(db, cast, n=2)
    _set(client, cast, "least_loaded")
    rule = make_rule(
        client,
        cast.bob,
        name="Hardware to the desk",
        conditions=[{"field": "category", "op": "equals", "value": "Hardware"}],
        actions=[{"type": "assign_group", "value": cast.desk.id}],
        on_create=False,
        on_update=True,
    )
    made = new_incident(client, cast.ivy, caller_id=cast.dave.id)
    assert made["assignment_group_id"] is None
    current = client.get(f"{API}/incidents/{made['number']}", headers=cast.ivy.headers)
    changed = client.patch(
        f"{API}/incidents/{made['number']}",
        json={"category_id": cast.hardware.id},
        headers={**cast.ivy.headers, "If-Match": current.headers["etag"]},
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["assignment_group_id"] == cast.desk.id and body["assignee_id"] == crew[0]
    assert body["state"] == "assigned"
    kinds = [(e["kind"], e["rule_id"]) for e in events(client, cast.bob, made["number"])]
    assert kinds.index(("rule_fired", rule["rule_id"])) < kinds.index(("auto_assigned", "RTE-LL"))
    outbox = client.get(f"{API}/admin/notify/outbox", headers=cast.bob.headers).json()["items"]
    assert crew[0] == cast.alice.id  # the lightest, and first by id
    assert [n["recipient"] for n in outbox if n["event"] == "assigned"] == ["alice@example.com"]
