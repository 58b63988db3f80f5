"""The lifecycle verbs (ITIL actions) on an incident; each goes through the transition table."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, Role, require_write_scope
from dutydesk.config import Settings
from dutydesk.escalation import service as escalation
from dutydesk.incidents import (
    changes,
    checklist,
    collaboration,
    confirmation,
    history,
    notices,
    service,
)
from dutydesk.incidents.lifecycle import (
    PENDING,
    Action,
    Status,
    is_within_reopen_window,
    missing_resolution_fields,
)
from dutydesk.incidents.schemas import ActionRequest
from dutydesk.kernel import clock
from dutydesk.kernel.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
)
from dutydesk.models import Incident, IncidentLink
from dutydesk.sla import service as sla

TIER_RANK = {"l1": 1, "l2": 2, "l3": 3, "supplier": 4}


def assign(session: Session, actor: Actor, incident: Incident, req: ActionRequest) -> Incident:
    group_id = req.group_id if req.group_id is not None else incident.assignment_group_id
    if group_id is None:
        raise InvalidInput(
            "assign needs a group", errors=[{"field": "group_id", "msg": "required"}]
        )
    group, assignee = service.resolve_assignment(session, actor, group_id, req.assignee_id)
    assert group is not None
    changes.apply_assignment(session, actor, incident, group, assignee, Action.assign, req.reason)
    return incident


def escalate(session: Session, actor: Actor, incident: Incident, req: ActionRequest) -> Incident:
    """Functional escalation (L1 → L2 → L3 → supplier): to the next step of the incident's
    escalation path (EP-<path>.<step>), or to a named group of a higher tier."""
    if req.group_id is None:
        step = escalation.next_step(session, incident)
        if step is None:
            raise InvalidInput(
                "no escalation path has a step after the incident's current group; "
                "name the group to escalate to",
                errors=[{"field": "group_id", "msg": "required: no next step on a path"}],
            )
        group, assignee = service.resolve_assignment(session, actor, step.group_id, req.assignee_id)
        assert group is not None
        escalation.escalate_to(
            session, actor, incident, group, assignee, reason=req.reason, step=step
        )
        return incident
    group, assignee = service.resolve_assignment(session, actor, req.group_id, req.assignee_id)
    assert group is not None
    if TIER_RANK[group.tier] <= escalation.current_rank(session, incident):
        raise InvalidInput(
            f"{group.name} ({group.tier}) is not a higher tier than the current one",
            errors=[{"field": "group_id", "msg": "must be a higher tier"}],
        )
    escalation.escalate_to(session, actor, incident, group, assignee, reason=req.reason)
    return incident


def start_work(session: Session, actor: Actor, incident: Incident, req: ActionRequest) -> Incident:
    rule_id = changes.transition(session, actor, incident, Action.start, reason=req.reason)
    if incident.assignee_id is None and actor.user_id is not None and actor.actor_type == "user":
        changes.set_field(session, actor, incident, "assignee_id", actor.user_id, rule_id)
    changes.acknowledge(incident, actor)
    return incident


def pend(session: Session, actor: Actor, incident: Incident, req: ActionRequest) -> Incident:
    if req.target not in PENDING:
        raise InvalidInput(
            "pend needs a target pending state",
            errors=[{"field": "target", "msg": f"one of {', '.join(sorted(PENDING))}"}],
        )
    if not (req.reason and req.reason.strip()):
        raise InvalidInput(
            "say what the incident is waiting for", errors=[{"field": "reason", "msg": "required"}]
        )
    rule_id = changes.transition(
        session, actor, incident, Action.pend, target=req.target, reason=req.reason
    )
    changes.set_field(session, actor, incident, "pending_reason", req.reason, rule_id)
    return incident


def resume(session: Session, actor: Actor, incident: Incident, req: ActionRequest) -> Incident:
    rule_id = changes.transition(session, actor, incident, Action.resume, reason=req.reason)
    changes.set_field(session, actor, incident, "pending_reason", None, rule_id)
    return incident


def resolve(session: Session, actor: Actor, incident: Incident, req: ActionRequest) -> Incident:
    """Resolution needs a code, notes, and whether it is a workaround (RSV guard)."""
    missing = missing_resolution_fields(
        req.resolution_code, req.resolution_notes, req.is_workaround
    )
    if missing:
        raise InvalidInput(
            "a resolution needs a code, notes and whether it is a workaround",
            errors=[{"field": f, "msg": "required to resolve"} for f in missing],
        )
    if actor.actor_type != "integration":  # ALR-AR: the source resolved it, not the desk
        checklist.require_complete(
            session,
            actor,
            incident,
            req.checklist,
            doing="resolved",
            setting={
                "resolution_code": req.resolution_code,
                "resolution_notes": req.resolution_notes,
            },
        )
    rule_id = changes.transition(session, actor, incident, Action.resolve, reason=req.reason)
    changes.set_field(session, actor, incident, "resolution_code", req.resolution_code, rule_id)
    changes.set_field(session, actor, incident, "resolution_notes", req.resolution_notes, rule_id)
    changes.set_field(session, actor, incident, "is_workaround", req.is_workaround, rule_id)
    changes.set_field(session, actor, incident, "pending_reason", None, rule_id)
    changes.acknowledge(incident, actor)
    incident.resolved_at = clock.now()
    return incident


def confirm_resolution(
    session: Session, actor: Actor, incident: Incident, req: ActionRequest
) -> Incident:
    changes.transition(
        session, actor, incident, Action.confirm, reason=req.reason or "resolution confirmed"
    )
    incident.closed_at = clock.now()
    return incident


def close(session: Session, actor: Actor, incident: Incident, req: ActionRequest) -> Incident:
    checklist.require_complete(session, actor, incident, req.checklist, doing="closed")
    changes.transition(session, actor, incident, Action.close, reason=req.reason)
    incident.closed_at = clock.now()
    return incident


def cancel(session: Session, actor: Actor, incident: Incident, req: ActionRequest) -> Incident:
    if not (req.reason and req.reason.strip()):
        raise InvalidInput(
            "say why the incident is cancelled", errors=[{"field": "reason", "msg": "required"}]
        )
    rule_id = changes.transition(session, actor, incident, Action.cancel, reason=req.reason)
    changes.set_field(session, actor, incident, "cancel_reason", req.reason, rule_id)
    incident.cancelled_at = clock.now()
    return incident


def reopen(
    session: Session, actor: Actor, incident: Incident, req: ActionRequest, *, settings: Settings
) -> Incident:
    """Within the window the same incident reopens (ROP-1); after it a follow-up (ROP-2/3)."""
    if not (req.reason and req.reason.strip()):
        raise InvalidInput(
            "say why the resolution did not work", errors=[{"field": "reason", "msg": "required"}]
        )
    window = timedelta(days=settings.reopen_window_days)
    state = Status(incident.state)
    within = (
        state == Status.resolved
        and incident.resolved_at is not None
        and is_within_reopen_window(incident.resolved_at, clock.now(), window)
    )
    if within:
        changes.transition(
            session, actor, incident, Action.reopen, target=Status.in_progress, reason=req.reason
        )
        incident.reopen_count += 1
        for name in ("resolution_code", "resolution_notes", "is_workaround"):
            changes.set_field(session, actor, incident, name, None, "ROP-1")
        incident.resolved_at = None
        return incident
    target = Status.closed if state == Status.closed else Status.resolved
    rule_id = changes.transition(
        session, actor, incident, Action.reopen, target=target, reason=req.reason
    )
    return _open_follow_up(session, actor, incident, req.reason, rule_id)


def _open_follow_up(
    session: Session, actor: Actor, old: Incident, reason: str, rule_id: str
) -> Incident:
    follow = changes.new_incident(
        service.next_number(session),
        short_description=old.short_description[:200],
        description=f"Follow-up of {old.number}: {reason}\n\n{old.description}",
        channel=old.channel,
        caller_id=old.caller_id,
        opened_by_id=actor.user_id,
        customer_id=old.customer_id,
        service_id=old.service_id,
        ci_id=old.ci_id,
        category_id=old.category_id,
        subcategory_id=old.subcategory_id,
        impact=old.impact,
        urgency=old.urgency,
        priority=old.priority,
        assignment_group_id=old.assignment_group_id,
        state=Status.assigned if old.assignment_group_id else Status.new,
        escalation_level=old.escalation_level,
    )
    now = follow.opened_at
    session.add(follow)
    session.flush()  # the link below needs the follow-up's id
    history.record(
        session,
        follow,
        actor,
        "created",
        new=changes.snapshot(follow),
        reason=reason,
        rule_id=rule_id,
    )
    session.add(
        IncidentLink(
            source_id=follow.id,
            target_id=old.id,
            kind="follow_up_of",
            created_at=now,
            created_by_id=actor.user_id,
        )
    )
    history.record(
        session, follow, actor, "link_added", field="follow_up_of", new=old.number, rule_id=rule_id
    )
    history.record(
        session,
        old,
        actor,
        "follow_up_opened",
        field="follow_up",
        new=follow.number,
        reason=reason,
        rule_id=rule_id,
    )
    changes.touch(old)
    return follow


VERBS = {
    Action.assign: assign,
    Action.escalate: escalate,
    Action.start: start_work,
    Action.pend: pend,
    Action.resume: resume,
    Action.resolve: resolve,
    Action.confirm: confirm_resolution,
    Action.close: close,
    Action.cancel: cancel,
}


def perform_action(
    session: Session,
    actor: Actor,
    incident: Incident,
    action: str,
    req: ActionRequest,
    *,
    settings: Settings,
) -> Incident:
    """Run one lifecycle action; returns the incident work goes on with (a follow-up: ROP-2/3)."""
    require_write_scope(actor)
    try:
        act = Action(action)
    except ValueError as exc:
        raise NotFound(
            f"there is no action {action!r}", extra={"actions": [a.value for a in Action]}
        ) from exc
    if req.comment:  # first: the action may leave the incident closed to additions
        visibility = "public" if not actor.is_staff else "work_note"
        collaboration.add_comment(
            session, actor, incident, req.comment, visibility, settings=settings
        )
    old_state = incident.state
    old_owner = (incident.assignment_group_id, incident.assignee_id)
    if act == Action.reopen:
        result = reopen(session, actor, incident, req, settings=settings)
    else:
        result = VERBS[act](session, actor, incident, req)
    sla.sync_clocks(session, actor, incident)
    confirmation.sync(session, settings, incident, old_state)
    notices.after_action(
        session,
        settings,
        actor,
        incident,
        act,
        old_state=old_state,
        old_owner=old_owner,
        reason=req.reason,
    )
    if result is not incident:  # a follow-up (ROP-2/3) starts clocks of its own
        sla.sync_clocks(session, actor, result)
    return result


def ensure_actor_may_act(actor: Actor, incident: Incident) -> None:
    if actor.role == Role.requester and actor.user_id not in (
        incident.caller_id,
        incident.opened_by_id,
    ):
        raise Forbidden("only the caller may act on this incident")
