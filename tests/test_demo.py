"""The demo loader: realistic data through the services, every state, intact history, idempotent."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dutydesk.access.policy import Role, system_actor
from dutydesk.db import Base, Database
from dutydesk.demo import data, load_demo
from dutydesk.demo.reference import Refs
from dutydesk.demo.stories import OLDEST, Plan, plan_incidents
from dutydesk.incidents.history import verify_chains
from dutydesk.incidents.lifecycle import Status
from dutydesk.kernel import clock
from dutydesk.models import (
    AgentCustomer,
    Category,
    Comment,
    ConfigurationItem,
    Customer,
    Incident,
    IncidentEvent,
    Service,
    SupportGroup,
    User,
)
from dutydesk.people import service as people
from dutydesk.people.secrets import verify_password


def row_counts(session: Session) -> dict[str, int]:
    return {
        table.name: session.scalar(select(func.count()).select_from(table)) or 0
        for table in Base.metadata.sorted_tables
    }


def test_loads_a_realistic_desk_and_only_once(fresh_db: Database) -> None:
    summary = load_demo(fresh_db, incidents=60, seed=3)
    now = clock.now()
    with fresh_db.unit_of_work(write=False) as s:
        customers = s.scalars(select(Customer)).all()
        assert len(customers) == 3 and sum(c.share_incidents for c in customers) == 1
        groups = s.scalars(select(SupportGroup)).all()
        assert sorted(g.tier for g in groups) == ["l1", "l2", "l3", "supplier"]
        assert all(g.manager_id is not None for g in groups)
        users = s.scalars(select(User)).all()
        assert {u.role for u in users} == set(Role)
        assert all(u.customer_id is not None for u in users if u.role == Role.requester)
        assert {u.customer_id for u in users if u.role == Role.requester} == {
            c.id for c in customers
        }
        assert s.scalar(select(func.count()).select_from(AgentCustomer))
        services = s.scalars(select(Service)).all()
        assert len(services) >= 10 and any(sv.customer_id for sv in services)
        cis = s.scalars(select(ConfigurationItem)).all()
        assert len(cis) >= 30 and all(ci.service_id and ci.owner_group_id for ci in cis)
        categories = s.scalars(select(Category)).all()
        assert any(c.parent_id is None for c in categories)
        assert any(c.parent_id is not None for c in categories)

        incidents = s.scalars(select(Incident)).all()
        assert len(incidents) == 60
        assert {i.state for i in incidents} == set(Status)
        assert all(now - timedelta(days=90) <= i.opened_at <= now for i in incidents)
        assert {i.channel for i in incidents} >= {"portal", "phone", "email"}
        assert len({i.priority for i in incidents}) >= 3
        assert list(verify_chains(s)) == []
        first_event = s.scalar(select(func.min(IncidentEvent.at)))
        last_event = s.scalar(select(func.max(IncidentEvent.at)))
        assert first_event is not None and first_event >= now - timedelta(days=90)
        assert last_event is not None and last_event <= now
        assert s.scalar(select(func.count()).where(IncidentEvent.actor_type != "user")) == 0
        kinds = set(s.scalars(select(IncidentEvent.kind).distinct()))
        assert {"created", "state_changed", "work_note", "public_reply"} <= kinds
        visibilities = set(s.scalars(select(Comment.visibility).distinct()))
        assert visibilities == {"work_note", "public"}
        closed = [i for i in incidents if i.state == Status.closed]
        assert all(i.resolved_at and i.closed_at and i.opened_at < i.closed_at for i in closed)
        rated = [i for i in closed if i.csat_rating is not None]
        assert rated and {i.csat_rating for i in rated} <= {1, 2, 3, 4, 5}
        assert all(i.csat_at and i.closed_at and i.csat_at >= i.closed_at for i in rated)
        resolved = [i for i in incidents if i.state == Status.resolved]
        assert all(i.auto_close_at and i.confirm_nonce for i in resolved)

        # Every printed account signs in with its printed password.
        by_name = {u.username: u for u in users}
        for role, password in data.PASSWORDS.items():
            assert password in summary and len(password) >= 10
            first = next(p for p in data.PEOPLE if p.role == role)
            assert first.username in summary
            assert verify_password(by_name[first.username].password_hash, password)
        before = row_counts(s)

    again = load_demo(fresh_db, incidents=60, seed=3)
    assert "nothing changed" in again and "demo-admin-pass" in again
    with fresh_db.unit_of_work(write=False) as s:
        assert row_counts(s) == before


def test_leaves_a_database_with_users_alone(db: Database) -> None:
    with db.unit_of_work() as s:
        people.add_user(s, system_actor(), username="root", email="root@example.com", role="admin")
    summary = load_demo(db, incidents=5)
    assert "not empty (1 users, 0 incidents)" in summary and "nothing changed" in summary
    assert "demo-admin-pass" not in summary  # these are not the demo's accounts
    with db.unit_of_work(write=False) as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 0
        assert s.scalar(select(func.count()).select_from(User)) == 1


def test_refuses_a_negative_count(db: Database) -> None:
    with pytest.raises(ValueError):
        load_demo(db, incidents=-1)


def fake_refs() -> Refs:
    """Ids for every name in the demo data, as if it had been created."""

    def ids(names: list[str]) -> dict[str, int]:
        return {name: n for n, name in enumerate(names, start=1)}

    categories = [*data.CATEGORIES] + [
        f"{parent}/{child}" for parent, children in data.CATEGORIES.items() for child in children
    ]
    return Refs(
        customers=ids([c.name for c in data.CUSTOMERS]),
        groups=ids([g.key for g in data.GROUPS]),
        users=ids([p.username for p in data.PEOPLE]),
        services=ids([s.name for s in data.SERVICES]),
        cis=ids([c.name for c in data.CIS]),
        categories=ids(categories),
    )


def test_plans_are_deterministic_and_fit_the_period() -> None:
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    window = timedelta(days=7)

    def plans(seed: int, count: int = 200) -> list[Plan]:
        made = plan_incidents(
            random.Random(seed), fake_refs(), count=count, now=now, reopen_window=window
        )
        assert [p.open_at for p in made] == sorted(p.open_at for p in made)
        assert all(now - OLDEST <= p.open_at and p.open_at + p.span < now for p in made)
        return list(made)

    assert plans(7) == plans(7)
    assert plans(7) != plans(8)
    every_state = plan_incidents(
        random.Random(1), fake_refs(), count=9, now=now, reopen_window=window
    )
    assert {p.state for p in every_state} == set(Status)
    few = plan_incidents(random.Random(1), fake_refs(), count=4, now=now, reopen_window=window)
    assert len(few) == 4
