"""Rules through the API end to end: an incident is created → a rule routes it → the history
says why; rules on update, stop, order, notify, skipped actions; and evaluation of the rule
table on the database (run with --db=postgresql too)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dutydesk.access.policy import Actor, Role, system_actor
from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.incidents import service as incidents
from dutydesk.incidents.history import verify_chains
from dutydesk.incidents.schemas import Channel, IncidentCreate
from dutydesk.models import Notification
from dutydesk.routing import service as routing
from tests.factories import Cast, new_incident
from tests.routing.common import API, contains, events, make_rule, patch


def test_a_rule_routes_a_new_incident_and_the_history_says_why(
    client: TestClient, cast: Cast, db: Database
) -> None:
    rule = make_rule(
        client,
        cast.bob,
        name="VPN to Infrastructure",
        conditions=contains("short_description", "vpn"),
        actions=[
            {"type": "assign_group", "value": cast.infra.id},
            {"type": "add_tags", "value": ["network", "vpn"]},
            {"type": "set_category", "value": cast.hardware.id},
        ],
    )
    made = new_incident(client, cast.dave, short_description="VPN drops every hour")
    assert made["assignment_group_id"] == cast.infra.id and made["state"] == "assigned"
    assert made["tags"] == ["network", "vpn"] and made["category_id"] == cast.hardware.id
    history = events(client, cast.bob, made["number"])
    code = rule["rule_id"]
    fired = [e for e in history if e["kind"] == "rule_fired"]
    assert len(fired) == 1 and fired[0]["rule_id"] == code
    assert fired[0]["actor_name"] == "routing" and fired[0]["actor_type"] == "system"
    assert "'VPN to Infrastructure'" in fired[0]["reason"]
    assert "short_description contains 'vpn'" in fired[0]["reason"]
    caused = [e for e in history if e["rule_id"] == code and e["kind"] == "field_changed"]
    assert [e["field"] for e in caused] == ["assignment_group_id", "tags", "category_id"]
    assert all(e["seq"] > fired[0]["seq"] for e in caused)
    state = next(e for e in history if e["kind"] == "state_changed")
    assert state["new"] == "assigned" and state["rule_id"] == "ASG-1"
    # the SLA clocks started after routing: the resolution clock exists, started once
    assert [c["kind"] for c in made["sla"]].count("resolution") == 1
    other = new_incident(client, cast.dave, short_description="Printer jammed")
    assert other["assignment_group_id"] is None and other["tags"] is None
    assert not [e for e in events(client, cast.bob, other["number"]) if e["kind"] == "rule_fired"]
    with db.unit_of_work(write=False) as s:
        assert list(verify_chains(s)) == []


def test_rules_on_update_fire_once_when_they_become_true(client: TestClient, cast: Cast) -> None:
    rule = make_rule(
        client,
        cast.bob,
        name="Urgent to the manager",
        conditions=[{"field": "urgency", "op": "lte", "value": 1}],
        actions=[
            {"type": "notify", "value": {"users": [cast.ivy.id], "message": "Look at this"}},
            {"type": "add_tags", "value": ["urgent"]},
            {"type": "set_impact", "value": 1},
        ],
        on_create=False,
        on_update=True,
    )
    made = new_incident(client, cast.alice, urgency=1, impact=3, caller_id=cast.dave.id)
    assert made["tags"] is None  # not on create
    assert patch(client, cast.alice, made["number"], urgency=2).status_code == 200
    changed = patch(client, cast.alice, made["number"], urgency=1)
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["tags"] == ["urgent"] and body["impact"] == 1 and body["priority"] == 1
    assert patch(client, cast.alice, made["number"], description="more").status_code == 200
    history = events(client, cast.bob, made["number"])
    assert [e["rule_id"] for e in history if e["kind"] == "rule_fired"] == [rule["rule_id"]]
    priority = [e for e in history if e["kind"] == "priority_changed"][-1]
    assert priority["rule_id"] == rule["rule_id"] and priority["new"] == 1
    outbox = client.get(f"{API}/admin/notify/outbox", headers=cast.bob.headers).json()["items"]
    told = [n for n in outbox if n["event"] == "rule_notify"]
    assert [n["recipient"] for n in told] == ["ivy@example.com"]


def test_a_rule_notifies_on_creation(client: TestClient, cast: Cast, db: Database) -> None:
    make_rule(
        client,
        cast.bob,
        name="Tell the infra group",
        conditions=contains("description", "datacenter"),
        actions=[{"type": "notify", "value": {"groups": [cast.apps.id]}}],
    )
    made = new_incident(client, cast.dave, description="The datacenter is hot")
    with db.unit_of_work(write=False) as s:
        told = s.scalars(select(Notification).where(Notification.event == "rule_notify")).all()
        assert [(n.recipient, n.incident_id is not None) for n in told] == [
            ("eve@example.com", True)
        ]
        assert made["number"] in told[0].subject and "Tell the infra group" in told[0].body


def test_stop_order_and_actions_that_cannot_apply(client: TestClient, cast: Cast) -> None:
    bob = cast.bob
    first = make_rule(
        client,
        bob,
        name="Mail to the desk, Alice",
        conditions=contains("short_description", "mail"),
        actions=[
            {"type": "assign_group", "value": cast.desk.id},
            {"type": "assign_user", "value": cast.alice.id},
            {"type": "assign_user", "value": cast.eve.id},  # not in the desk: skipped
            {"type": "mark_request"},
        ],
        stop=True,
    )
    second = make_rule(
        client,
        bob,
        name="Everything tagged",
        actions=[{"type": "add_tags", "value": ["seen"]}],
    )
    made = new_incident(client, cast.dave, short_description="Mail quota")
    assert made["assignee_id"] == cast.alice.id and made["is_service_request"] is True
    assert made["tags"] is None  # the first rule stopped the run
    history = events(client, bob, made["number"])
    skipped = [e for e in history if e["kind"] == "rule_action_skipped"]
    assert len(skipped) == 1 and "not a member" in skipped[0]["reason"]
    assert skipped[0]["rule_id"] == first["rule_id"]
    client.post(
        f"{API}/admin/routing/rules/reorder",
        json={"ids": [second["id"], first["id"]]},
        headers=bob.headers,
    )
    again = new_incident(client, cast.dave, short_description="Mail quota again")
    assert again["tags"] == ["seen"] and again["assignee_id"] == cast.alice.id
    fired = [
        e["rule_id"] for e in events(client, bob, again["number"]) if e["kind"] == "rule_fired"
    ]
    assert fired == [second["rule_id"], first["rule_id"]]


def test_imported_history_is_not_routed(db: Database, cast: Cast, settings: Settings) -> None:
    with db.unit_of_work() as s:
        routing.create_rule(
            s,
            system_actor(),
            routing.RuleFields(name="All", actions=[{"type": "add_tags", "value": ["x"]}]),
        )
        importer = Actor(None, "import", Role.admin, actor_type="import", channel="import")
        made = incidents.open_incident(
            s,
            system_actor(),
            IncidentCreate(short_description="live", caller_id=cast.dave.id, impact=2, urgency=2),
            settings=settings,
        )
        assert made.tags == ["x"]
        other = incidents.open_incident(
            s,
            system_actor(),
            IncidentCreate(short_description="old", caller_id=cast.dave.id, impact=2, urgency=2),
            settings=settings,
        )
        other.tags = None
        routing.route_new(s, settings, importer, other)
        assert other.tags is None


# Rule evaluation on the database, table-driven: the incident's fields, one condition, and
# whether it fires (references by id and by name, text, levels, tags, emptiness).
DB_CASES: list[tuple[dict[str, Any], dict[str, Any], bool]] = [
    ({}, {"field": "short_description", "op": "contains", "value": "E-MAIL"}, True),
    ({}, {"field": "short_description", "op": "regex", "value": r"^Cannot \w+"}, True),
    ({}, {"field": "description", "op": "is_empty"}, True),
    ({"channel": "email"}, {"field": "channel", "op": "in", "value": ["email", "portal"]}, True),
    ({"channel": "phone"}, {"field": "channel", "op": "in", "value": ["email", "portal"]}, False),
    ({"impact": 1}, {"field": "priority", "op": "lte", "value": 2}, True),
    ({"impact": 3, "urgency": 3}, {"field": "priority", "op": "lt", "value": 3}, False),
    ({"service": True}, {"field": "service", "op": "equals", "value": "e-mail"}, True),
    ({"service": True}, {"field": "service", "op": "equals", "value": "service-id"}, True),
    ({}, {"field": "service", "op": "is_not_empty"}, False),
    ({}, {"field": "customer", "op": "equals", "value": "Acme"}, True),
    ({}, {"field": "caller", "op": "not_equals", "value": "dave"}, False),
    ({}, {"field": "state", "op": "equals", "value": "new"}, True),
]


@pytest.mark.parametrize(("fields", "condition", "fires"), DB_CASES)
def test_rule_evaluation_on_the_database(
    client: TestClient, cast: Cast, fields: dict[str, Any], condition: dict[str, Any], fires: bool
) -> None:
    if condition.get("value") == "service-id":
        condition = {**condition, "value": cast.email_service.id}
    make_rule(client, cast.bob, name="Case", conditions=[condition])
    body = dict(fields)
    if body.pop("service", None):
        body["service_id"] = cast.email_service.id
    made = new_incident(client, cast.dave, **body)
    assert made["is_service_request"] is fires


def test_rules_run_for_mail_too(
    client: TestClient, cast: Cast, db: Database, settings: Settings
) -> None:
    make_rule(
        client,
        cast.bob,
        name="Mail",
        conditions=[{"field": "channel", "op": "equals", "value": "email"}],
    )
    with db.unit_of_work() as s:
        data = IncidentCreate(
            short_description="from mail",
            channel=Channel.email,
            caller_id=cast.dave.id,
            impact=3,
            urgency=3,
        )
        made = incidents.open_incident(s, system_actor(channel="email"), data, settings=settings)
        assert made.is_service_request is True
