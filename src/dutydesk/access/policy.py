"""The access policy: the Actor, incident visibility as a SQL clause, and write rights."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, true

from dutydesk.kernel.errors import Forbidden
from dutydesk.models import Incident


class Role(StrEnum):
    requester = "requester"
    agent = "agent"
    incident_manager = "incident_manager"
    admin = "admin"


STAFF = frozenset({Role.agent, Role.incident_manager, Role.admin})
SEES_EVERYTHING = frozenset({Role.incident_manager, Role.admin})


@dataclass(frozen=True)
class Actor:
    """Who is acting, through which channel, with what reach."""

    user_id: int | None
    name: str
    role: Role
    actor_type: str = "user"  # user | system | integration | import
    channel: str = "api"  # api | web | cli | worker | email | import
    customer_id: int | None = None
    customer_shares: bool = False
    group_ids: frozenset[int] = field(default_factory=frozenset)
    served_customer_ids: frozenset[int] = field(default_factory=frozenset)
    scope: str = "write"
    request_id: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin


def system_actor(channel: str = "cli", name: str = "system") -> Actor:
    return Actor(user_id=None, name=name, role=Role.admin, actor_type="system", channel=channel)


def incident_visibility(actor: Actor, inc: Any = Incident) -> ColumnElement[bool]:
    """A WHERE clause selecting exactly the incidents the actor may see (`inc` may be an alias)."""
    if actor.role in SEES_EVERYTHING:
        return true()
    if actor.role == Role.agent:
        return or_(
            inc.assignment_group_id.in_(sorted(actor.group_ids)),
            inc.customer_id.in_(sorted(actor.served_customer_ids)),
            inc.assignee_id == actor.user_id,
            inc.opened_by_id == actor.user_id,
            # Internal incidents nobody has picked up yet are the whole desk's queue.
            and_(inc.customer_id.is_(None), inc.assignment_group_id.is_(None)),
        )
    if actor.role == Role.requester:
        own = or_(inc.caller_id == actor.user_id, inc.opened_by_id == actor.user_id)
        if actor.customer_shares and actor.customer_id is not None:
            return or_(own, inc.customer_id == actor.customer_id)
        return own
    return false()


def can_see_incident(actor: Actor, incident: Incident) -> bool:
    """The same rule as incident_visibility, for a loaded row."""
    if actor.role in SEES_EVERYTHING:
        return True
    if actor.role == Role.agent:
        return (
            incident.assignment_group_id in actor.group_ids
            or incident.customer_id in actor.served_customer_ids
            or incident.assignee_id == actor.user_id
            or incident.opened_by_id == actor.user_id
            or (incident.customer_id is None and incident.assignment_group_id is None)
        )
    if actor.role == Role.requester:
        if actor.user_id in (incident.caller_id, incident.opened_by_id):
            return True
        return bool(
            actor.customer_shares
            and actor.customer_id is not None
            and incident.customer_id == actor.customer_id
        )
    return False


def can_see_customer(actor: Actor, customer_id: int) -> bool:
    if actor.role in SEES_EVERYTHING:
        return True
    if actor.role == Role.agent:
        return customer_id in actor.served_customer_ids
    return customer_id == actor.customer_id


def require_write_scope(actor: Actor) -> None:
    if actor.scope != "write":
        raise Forbidden("this token is read-only")


def require_staff(actor: Actor) -> None:
    require_write_scope(actor)
    if not actor.is_staff:
        raise Forbidden("only service desk staff may do this")


def require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise Forbidden("only an administrator may do this")
