"""Reads for the demo loader: is the database empty, and what does it hold."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dutydesk.models import (
    AgentCustomer,
    Category,
    Comment,
    ConfigurationItem,
    Customer,
    GroupMember,
    Incident,
    IncidentEvent,
    Service,
    SupportGroup,
    User,
)


def _count(session: Session, model: type[object]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def count_users_and_incidents(session: Session) -> tuple[int, int]:
    return _count(session, User), _count(session, Incident)


def load_reference_rows(session: Session) -> list[object]:
    """Every catalog and people row; holding them keeps them in the session's identity map.

    The identity map references unchanged rows weakly, so without this each service's
    session.get() of a customer, service or category would be a SELECT again.
    """
    rows: list[object] = []
    for model in (
        Customer,
        User,
        SupportGroup,
        GroupMember,
        AgentCustomer,
        Service,
        ConfigurationItem,
        Category,
    ):
        rows.extend(session.scalars(select(model)))
    return rows


def existing_usernames(session: Session, usernames: Iterable[str]) -> set[str]:
    return set(session.scalars(select(User.username).where(User.username.in_(list(usernames)))))


@dataclass
class Contents:
    customers: int = 0
    services: int = 0
    cis: int = 0
    categories: int = 0
    users: int = 0
    events: int = 0
    comments: int = 0
    groups: list[tuple[str, str]] = field(default_factory=list)  # (name, tier)
    states: dict[str, int] = field(default_factory=dict)
    first_opened: str = ""

    @property
    def incidents(self) -> int:
        return sum(self.states.values())


def get_contents(session: Session) -> Contents:
    contents = Contents(
        customers=_count(session, Customer),
        services=_count(session, Service),
        cis=_count(session, ConfigurationItem),
        categories=_count(session, Category),
        users=_count(session, User),
        events=_count(session, IncidentEvent),
        comments=_count(session, Comment),
    )
    contents.groups = [
        (name, tier)
        for name, tier in session.execute(
            select(SupportGroup.name, SupportGroup.tier).order_by(SupportGroup.id)
        )
    ]
    contents.states = {
        state: count
        for state, count in session.execute(
            select(Incident.state, func.count()).group_by(Incident.state)
        )
    }
    first = session.scalar(select(func.min(Incident.opened_at)))
    contents.first_opened = first.date().isoformat() if first else ""
    return contents
