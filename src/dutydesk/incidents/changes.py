"""Low-level incident changes shared by logging and the lifecycle verbs; each one is logged."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor
from dutydesk.incidents import history
from dutydesk.incidents.lifecycle import Action, InvalidTransition, Status, next_transition
from dutydesk.kernel import clock
from dutydesk.kernel.errors import Conflict
from dutydesk.models import Incident, SupportGroup, User

REFERENCE_FIELDS = (
    "caller_id",
    "customer_id",
    "service_id",
    "ci_id",
    "category_id",
    "subcategory_id",
    "assignment_group_id",
    "assignee_id",
)


_NEW_INCIDENT = sa_inspect(Incident).class_manager.new_instance  # an instance, no values
_COLUMNS = frozenset(a.key for a in sa_inspect(Incident).column_attrs)


class TransitionRefused(Conflict):
    """409 that names the actions the caller could take instead."""


def refuse(exc: InvalidTransition) -> TransitionRefused:
    return TransitionRefused(
        str(exc), extra={"state": exc.status.value, "allowed_actions": exc.allowed}
    )


def snapshot(incident: Incident) -> dict[str, Any]:
    return {
        name: getattr(incident, name)
        for name in (
            "short_description",
            "description",
            "channel",
            "state",
            "impact",
            "urgency",
            "priority",
            *REFERENCE_FIELDS,
        )
    }


def touch(incident: Incident) -> None:
    incident.updated_at = clock.now()


def transition(
    session: Session,
    actor: Actor,
    incident: Incident,
    action: Action,
    target: Status | None = None,
    reason: str | None = None,
) -> str:
    try:
        row = next_transition(Status(incident.state), action, actor.role, target=target)
    except InvalidTransition as exc:
        raise refuse(exc) from exc
    set_state(session, actor, incident, row.target, reason, row.rule_id)
    touch(incident)
    return row.rule_id


def set_state(
    session: Session,
    actor: Actor,
    incident: Incident,
    new: Status,
    reason: str | None,
    rule_id: str,
) -> None:
    """Move the state and log it; callers have checked the move (transition table or rule)."""
    if new != incident.state:
        history.record(
            session,
            incident,
            actor,
            "state_changed",
            field="state",
            old=incident.state,
            new=new.value,
            reason=reason,
            rule_id=rule_id,
        )
        incident.state = new


def set_field(
    session: Session, actor: Actor, incident: Incident, name: str, new: Any, rule_id: str | None
) -> None:
    old = getattr(incident, name)
    if old != new:
        setattr(incident, name, new)
        history.record(
            session, incident, actor, "field_changed", field=name, old=old, new=new, rule_id=rule_id
        )


def acknowledge(incident: Incident, actor: Actor) -> None:
    if incident.acknowledged_at is None and actor.is_staff and actor.actor_type == "user":
        incident.acknowledged_at = clock.now()


def apply_assignment(
    session: Session,
    actor: Actor,
    incident: Incident,
    group: SupportGroup,
    assignee: User | None,
    action: Action,
    reason: str | None,
    *,
    rule_id: str | None = None,
) -> None:
    """Assign (or escalate); `rule_id` names the routing rule or strategy behind an automatic
    assignment on the field changes (the state change keeps the transition's rule id)."""
    was_assigned = incident.assignment_group_id is not None
    moved = group.id != incident.assignment_group_id or (
        assignee is not None
        and assignee.id != incident.assignee_id
        and incident.assignee_id is not None
    )
    by_rule = transition(session, actor, incident, action, reason=reason)
    by_rule = rule_id or by_rule
    set_field(session, actor, incident, "assignment_group_id", group.id, by_rule)
    set_field(session, actor, incident, "assignee_id", assignee.id if assignee else None, by_rule)
    if was_assigned and moved:
        incident.reassignment_count += 1
    acknowledge(incident, actor)


def new_incident(number: str, **fields: Any) -> Incident:
    """A fresh incident row with its bookkeeping set (no history, no reopen, opened now).

    Its columns go straight into its instance dict, as the constructor's ~20 attribute
    events buy nothing for a row about to be inserted (the unit of work inserts from that
    dict, and nothing reads a new row's attribute history); changes made after this go
    through the attributes as usual."""
    unknown = fields.keys() - _COLUMNS
    if unknown:
        raise TypeError(f"not columns of Incident: {sorted(unknown)}")
    now = clock.now()
    incident = _NEW_INCIDENT()
    incident.__dict__.update(
        escalation_level=1,
        reopen_count=0,
        reassignment_count=0,
        opened_at=now,
        updated_at=now,
        history_count=0,
        history_head="",
        number=number,
    )
    incident.__dict__.update(fields)
    return incident
