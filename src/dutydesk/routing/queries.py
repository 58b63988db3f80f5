"""Routing reads: the rules in order, a group's strategy, members' loads, service requests."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, Role, incident_visibility
from dutydesk.incidents.lifecycle import OPEN
from dutydesk.kernel.errors import NotFound
from dutydesk.models import (
    GroupMember,
    GroupRouting,
    Incident,
    RoutingRule,
    ServiceRequest,
    ServiceRequestEvent,
    User,
)
from dutydesk.routing import strategies
from dutydesk.routing.conditions import RuleSpec, check_rule

RULES = "dutydesk.routing.rules"  # session.info cache of the active rules, per transaction


_RULES_IN_ORDER = select(RoutingRule).order_by(RoutingRule.position, RoutingRule.id)  # built once


def list_rules(session: Session) -> list[RoutingRule]:
    return list(session.scalars(_RULES_IN_ORDER))


@dataclass(frozen=True)
class ActiveRule:
    """An active rule as evaluation needs it, its conditions and actions parsed once."""

    id: int
    name: str
    on_create: bool
    on_update: bool
    stop: bool
    spec: RuleSpec


def active_rules(session: Session) -> list[ActiveRule]:
    """The active rules in order, read and parsed once per transaction (rule writes forget
    them). A stored rule that no longer parses is left out."""
    cached: list[ActiveRule] | None = session.info.get(RULES)
    if cached is None:
        cached = []
        with session.no_autoflush:  # rules are written by their own requests, never pending
            rows = [r for r in list_rules(session) if r.is_active]
        for r in rows:
            spec, _problems = check_rule(r.match, r.conditions, r.actions)
            if spec is not None:
                cached.append(ActiveRule(r.id, r.name, r.on_create, r.on_update, r.stop, spec))
        session.info[RULES] = cached
    return cached


def condition_fields(rules: list[ActiveRule]) -> frozenset[str]:
    return frozenset(c.field for r in rules for c in r.spec.conditions)


def forget_rules(session: Session) -> None:
    session.info.pop(RULES, None)


def get_rule(session: Session, rule_id: int) -> RoutingRule:
    rule = session.get(RoutingRule, rule_id)
    if rule is None:
        raise NotFound(f"routing rule {rule_id} not found")
    return rule


def get_group_routing(
    session: Session, group_id: int, *, for_update: bool = False
) -> GroupRouting | None:
    query = select(GroupRouting).where(GroupRouting.group_id == group_id)
    if for_update:  # PostgreSQL: concurrent creations take turns; SQLite has one writer
        query = query.with_for_update()
    return session.scalar(query)


def available_members(session: Session, group_id: int) -> list[int]:
    """Active, available staff members of the group, by user id."""
    query = (
        select(User.id)
        .join(GroupMember, GroupMember.user_id == User.id)
        .where(
            GroupMember.group_id == group_id,
            User.is_active.is_(True),
            User.is_available.is_(True),
            User.role != Role.requester.value,
        )
        .order_by(User.id)
    )
    return list(session.scalars(query))


def member_loads(session: Session, user_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Each user's (priority-weighted, plain) count of open incidents assigned to them."""
    loads = {user_id: [0, 0] for user_id in user_ids}  # members with nothing count too
    rows = session.execute(
        select(Incident.assignee_id, Incident.priority, func.count())
        .where(Incident.assignee_id.in_(user_ids), Incident.state.in_(sorted(OPEN)))
        .group_by(Incident.assignee_id, Incident.priority)
    )
    for user_id, priority, count in rows:
        if user_id is None:
            continue
        loads[user_id][0] += strategies.weight(priority) * count
        loads[user_id][1] += count
    return {u: (w, c) for u, (w, c) in loads.items()}


# ----------------------------------------------------------------- service requests


def request_visibility(actor: Actor) -> ColumnElement[bool]:
    """Requests are seen like incidents: the request has the columns the rule reads."""
    return incident_visibility(actor, ServiceRequest)


def get_request_for(
    session: Session, actor: Actor, number: str, *, for_update: bool = False
) -> ServiceRequest:
    query = select(ServiceRequest).where(
        ServiceRequest.number == number,
        request_visibility(actor),
    )
    if for_update:
        query = query.with_for_update()
    found = session.scalar(query)
    if found is None:
        raise NotFound(f"service request {number} not found")
    return found


def list_requests(
    session: Session, actor: Actor, *, state: str | None, limit: int, after_id: int | None
) -> list[ServiceRequest]:
    query = select(ServiceRequest).where(request_visibility(actor))
    if state is not None:
        query = query.where(ServiceRequest.state == state)
    if after_id is not None:
        query = query.where(ServiceRequest.id < after_id)
    return list(session.scalars(query.order_by(ServiceRequest.id.desc()).limit(limit)))


def request_of_incident(session: Session, incident_id: int) -> ServiceRequest | None:
    return session.scalar(select(ServiceRequest).where(ServiceRequest.incident_id == incident_id))


def list_request_events(session: Session, request: ServiceRequest) -> list[ServiceRequestEvent]:
    return list(
        session.scalars(
            select(ServiceRequestEvent)
            .where(ServiceRequestEvent.request_id == request.id)
            .order_by(ServiceRequestEvent.seq)
        )
    )
