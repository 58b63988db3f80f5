"""Demo routing: a few business rules and group strategies, added after the demo's incidents
were played (they route the incidents people create from then on, not the stories)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from dutydesk.access.policy import system_actor
from dutydesk.demo import data
from dutydesk.people import queries as people
from dutydesk.routing import service as routing
from dutydesk.routing.strategies import Strategy


def create_routing(session: Session) -> None:
    admin = system_actor(name="demo loader")
    desk = people.get_group_by_name(session, "Service Desk")
    infra = people.get_group_by_name(session, "Infrastructure")
    managers = [
        people.get_user_by_username(session, p.username).id
        for p in data.PEOPLE
        if p.role == "incident_manager"
    ]
    text = r"(?i)\b(vpn|wi-?fi|wlan|network|firewall)\b"
    rules = [
        routing.RuleFields(
            name="Network problems to Infrastructure",
            description="VPN, Wi-Fi and network trouble goes straight to the network people.",
            match="any",
            conditions=[
                {"field": "short_description", "op": "regex", "value": text},
                {"field": "description", "op": "regex", "value": text},
            ],
            actions=[
                {"type": "assign_group", "value": infra.id},
                {"type": "add_tags", "value": ["network"]},
            ],
        ),
        routing.RuleFields(
            name="Access and account requests",
            description="Access, new accounts and password resets are service requests.",
            conditions=[
                {
                    "field": "short_description",
                    "op": "regex",
                    "value": r"(?i)\b(access to|new account|password reset|request for)\b",
                }
            ],
            actions=[{"type": "mark_request"}, {"type": "assign_group", "value": desk.id}],
            stop=True,
        ),
        routing.RuleFields(
            name="P1 tells the incident managers",
            description="Whenever an incident is or becomes P1.",
            conditions=[{"field": "priority", "op": "equals", "value": 1}],
            actions=[
                {"type": "notify", "value": {"users": managers, "message": "A P1 needs you."}},
                {"type": "add_tags", "value": ["p1"]},
            ],
            on_update=True,
        ),
    ]
    for fields in rules:
        routing.create_rule(session, admin, fields)
    routing.set_group_strategy(session, admin, desk.id, Strategy.round_robin)
    routing.set_group_strategy(session, admin, infra.id, Strategy.least_loaded)
