"""Creating the demo's reference data (customers, groups, people, catalog) through the services."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, system_actor
from dutydesk.catalog import service as catalog
from dutydesk.demo import data
from dutydesk.escalation import admin as escalation
from dutydesk.people import queries as people_queries
from dutydesk.people import service as people


@dataclass
class Refs:
    """The ids of what was created, by the names used in `data`."""

    customers: dict[str, int] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)  # GroupSpec.key -> id
    users: dict[str, int] = field(default_factory=dict)  # username -> id
    services: dict[str, int] = field(default_factory=dict)
    cis: dict[str, int] = field(default_factory=dict)
    categories: dict[str, int] = field(default_factory=dict)  # "Hardware" or "Hardware/Laptop"
    actors: dict[str, Actor] = field(default_factory=dict)  # username -> Actor


def create_reference_data(session: Session) -> Refs:
    admin = system_actor(name="demo loader")
    refs = Refs()
    for c in data.CUSTOMERS:
        customer = people.create_customer(
            session,
            admin,
            name=c.name,
            description=c.description,
            share_incidents=c.share_incidents,
        )
        refs.customers[c.name] = customer.id
    domains = {c.name: c.domain for c in data.CUSTOMERS}
    users = {}
    for p in data.PEOPLE:
        domain = domains[p.customer] if p.customer else data.STAFF_DOMAIN
        user = people.add_user(
            session,
            admin,
            username=p.username,
            email=f"{p.username}@{domain}",
            role=p.role,
            full_name=p.full_name,
            password=data.PASSWORDS[p.role],
            customer_id=refs.customers[p.customer] if p.customer else None,
        )
        users[p.username] = user
        refs.users[p.username] = user.id
    for g in data.GROUPS:
        members = [p for p in data.PEOPLE if p.group == g.key]
        group = people.create_group(
            session,
            admin,
            name=g.name,
            tier=g.tier,
            description=g.description,
            email=g.email,
            manager_id=users[members[0].username].id,
        )
        refs.groups[g.key] = group.id
        for p in members:
            people.add_member(session, admin, group, users[p.username])
    for p in data.PEOPLE:
        for name in p.serves:
            customer = people_queries.get_customer(session, refs.customers[name])
            people.serve_customer(session, admin, users[p.username], customer)
    _create_catalog(session, admin, refs)
    _create_escalation(session, admin, refs)
    session.flush()
    for username, user in users.items():
        refs.actors[username] = people_queries.build_actor(session, user, channel="web")
    return refs


def _create_catalog(session: Session, admin: Actor, refs: Refs) -> None:
    for s in data.SERVICES:
        service = catalog.create_service(
            session,
            admin,
            name=s.name,
            description=s.description,
            customer_id=refs.customers[s.customer] if s.customer else None,
            owner_group_id=refs.groups[s.owner],
        )
        refs.services[s.name] = service.id
    for c in data.CIS:
        ci = catalog.create_ci(
            session,
            admin,
            name=c.name,
            ci_class=c.ci_class,
            criticality=c.criticality,
            service_id=refs.services[c.service],
            owner_group_id=refs.groups[c.owner],
        )
        refs.cis[c.name] = ci.id
    for parent_name, children in data.CATEGORIES.items():
        parent = catalog.create_category(session, admin, name=parent_name)
        refs.categories[parent_name] = parent.id
        for child_name in children:
            child = catalog.create_category(session, admin, name=child_name, parent_id=parent.id)
            refs.categories[f"{parent_name}/{child_name}"] = child.id


def _create_escalation(session: Session, admin: Actor, refs: Refs) -> None:
    """The escalation matrix (the desk escalates by itself when its OLA breaches, if it has
    one) and two hierarchic levels: P1 at half time, and any missed resolution target."""
    steps = [
        {"level": n, "group_id": refs.groups[key], "auto": key == "desk"}
        for n, key in enumerate(("desk", "apps", "infra", "vendor"), start=1)
    ]
    escalation.create_path(session, admin, {"name": "Standard escalation", "steps": steps})
    for level in (
        {"name": "P1 at half time", "priority": 1, "percent": 50, "notify_incident_managers": True},
        {"name": "Resolution target missed", "percent": 100},
    ):
        escalation.create_level(session, admin, {"trigger": "percent", **level})
