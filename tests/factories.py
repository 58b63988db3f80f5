"""Plain builders with deterministic defaults, and the named cast of the tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from dutydesk.access.policy import system_actor
from dutydesk.catalog import service as catalog
from dutydesk.db import Database
from dutydesk.models import Category, ConfigurationItem, Customer, Service, SupportGroup, User
from dutydesk.people import service as people

PASSWORD = "correct horse battery"


@dataclass
class Person:
    user: User
    token: str

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Cast:
    acme: Customer
    globex: Customer
    desk: SupportGroup  # L1
    apps: SupportGroup  # L2
    infra: SupportGroup  # L3
    vendor: SupportGroup  # supplier
    email_service: Service
    mail_server: ConfigurationItem
    hardware: Category
    laptop: Category
    bob: Person  # admin
    ivy: Person  # incident manager
    alice: Person  # agent, Service Desk, serves Acme
    eve: Person  # agent, Application Support, serves no customer
    dave: Person  # requester at Acme
    carol: Person  # requester at Globex: no access to Acme's incidents
    erin: Person  # second requester at Acme


def make_person(
    session: Any, username: str, role: str, customer: Customer | None = None, scope: str = "write"
) -> Person:
    actor = system_actor()
    user = people.add_user(
        session,
        actor,
        username=username,
        email=f"{username}@example.com",
        role=role,
        full_name=username.title(),
        password=PASSWORD,
        customer_id=customer.id if customer else None,
    )
    _token, plain = people.create_token(session, actor, user, name="test", scope=scope)
    return Person(user, plain)


def make_cast(db: Database) -> Cast:
    actor = system_actor()
    with db.unit_of_work() as s:
        acme = people.create_customer(s, actor, name="Acme")
        globex = people.create_customer(s, actor, name="Globex")
        groups = [
            people.create_group(s, actor, name=n, tier=t)
            for n, t in (
                ("Service Desk", "l1"),
                ("Application Support", "l2"),
                ("Infrastructure", "l3"),
                ("Vendor", "supplier"),
            )
        ]
        email = catalog.create_service(s, actor, name="E-mail")
        server = catalog.create_ci(
            s, actor, name="mail01", ci_class="server", service_id=email.id, criticality="high"
        )
        hardware = catalog.create_category(s, actor, name="Hardware")
        laptop = catalog.create_category(s, actor, name="Laptop", parent_id=hardware.id)
        bob = make_person(s, "bob", "admin")
        ivy = make_person(s, "ivy", "incident_manager")
        alice = make_person(s, "alice", "agent")
        eve = make_person(s, "eve", "agent")
        dave = make_person(s, "dave", "requester", acme)
        carol = make_person(s, "carol", "requester", globex)
        erin = make_person(s, "erin", "requester", acme)
        people.add_member(s, actor, groups[0], alice.user)
        people.add_member(s, actor, groups[1], eve.user)
        people.serve_customer(s, actor, alice.user, acme)
        s.flush()
    return Cast(
        acme,
        globex,
        *groups,
        email,
        server,
        hardware,
        laptop,
        bob,
        ivy,
        alice,
        eve,
        dave,
        carol,
        erin,
    )


def new_incident(client: TestClient, who: Person, **fields: Any) -> dict[str, Any]:
    body = {"short_description": "Cannot send e-mail", "impact": 2, "urgency": 2, **fields}
    response = client.post("/api/v1/incidents", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return response.json()


def act(client: TestClient, who: Person, number: str, action: str, **body: Any) -> Any:
    current = client.get(f"/api/v1/incidents/{number}", headers=who.headers)
    return client.post(
        f"/api/v1/incidents/{number}/actions/{action}",
        json=body,
        headers={**who.headers, "If-Match": current.headers.get("etag", "*")},
    )
