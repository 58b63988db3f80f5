"""Writes for incidents, named after ITIL actions; each logs history and never commits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, Role, can_see_customer, require_staff, require_write_scope
from dutydesk.catalog import queries as catalog
from dutydesk.config import Settings
from dutydesk.incidents import collaboration, history, rules
from dutydesk.incidents.lifecycle import (
    PENDING,
    TERMINAL,
    Action,
    InvalidTransition,
    Status,
    is_within_reopen_window,
    missing_resolution_fields,
    next_transition,
)
from dutydesk.incidents.priority import missing_checklist_fields
from dutydesk.incidents.schemas import ActionRequest, Channel, IncidentCreate, IncidentPatch
from dutydesk.kernel import clock
from dutydesk.kernel.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
)
from dutydesk.models import Counter, Customer, Incident, IncidentLink, SupportGroup, User
from dutydesk.people import queries as people

TIER_RANK = {"l1": 1, "l2": 2, "l3": 3, "supplier": 4}
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


class TransitionRefused(Conflict):
    """409 that names the actions the caller could take instead."""


def refuse(exc: InvalidTransition) -> TransitionRefused:
    return TransitionRefused(
        str(exc), extra={"state": exc.status.value, "allowed_actions": exc.allowed}
    )


def next_number(session: Session, prefix: str = "INC", width: int = 7) -> str:
    """Unique under concurrency: the counter row is bumped with UPDATE … RETURNING."""
    bump = (
        update(Counter)
        .where(Counter.name == prefix)
        .values(value=Counter.value + 1)
        .returning(Counter.value)
    )
    value = session.execute(bump).scalar()
    if value is None:
        try:
            with session.begin_nested():
                session.execute(insert(Counter).values(name=prefix, value=0))
        except IntegrityError:
            pass  # another transaction created it first
        value = session.execute(bump).scalar_one()
    return f"{prefix}{value:0{width}d}"


def etag(incident: Incident) -> str:
    return f'"{incident.version}"'


def check_version(incident: Incident, if_match: str | None, settings: Settings) -> None:
    """Optimistic concurrency: If-Match must name the current version (RFC 9110)."""
    if if_match is None:
        if settings.require_if_match:
            raise PreconditionRequired(
                "send If-Match with the ETag of the version you read",
                extra={"etag": etag(incident)},
            )
        return
    wanted = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in wanted and etag(incident) not in wanted:
        raise PreconditionFailed(
            f"{incident.number} changed since you read it (now version {incident.version})",
            extra={"etag": etag(incident)},
        )


# ---------------------------------------------------------------- references


def _check_references(
    session: Session, actor: Actor, values: dict[str, Any], current: Incident | None = None
) -> None:
    """Every id must exist and be visible to the actor; otherwise 404 naming the field."""
    missing: list[dict[str, Any]] = []

    def gone(name: str, msg: str = "not found") -> None:
        missing.append({"field": name, "msg": msg})

    def value(name: str) -> Any:
        if name in values:
            return values[name]
        return getattr(current, name) if current is not None else None

    customer_id = value("customer_id")
    if "customer_id" in values and customer_id is not None:
        exists = session.get(Customer, customer_id)
        if exists is None or not can_see_customer(actor, customer_id):
            gone("customer_id")
    if "caller_id" in values and values["caller_id"] is not None:
        caller = session.get(User, values["caller_id"])
        if caller is None or not caller.is_active:
            gone("caller_id")
        elif caller.customer_id is not None and not can_see_customer(actor, caller.customer_id):
            gone("caller_id")
    for name, getter in (
        ("service_id", catalog.get_service),
        ("ci_id", catalog.get_ci),
        ("category_id", catalog.get_category),
        ("subcategory_id", catalog.get_category),
    ):
        if name in values and values[name] is not None:
            try:
                getter(session, values[name])
            except NotFound:
                gone(name)
    if missing:
        raise NotFound("a referenced record does not exist or is not visible", errors=missing)
    _check_consistency(session, values, value)


def _check_consistency(session: Session, values: dict[str, Any], value: Any) -> None:
    errors: list[dict[str, Any]] = []
    category_id, subcategory_id = value("category_id"), value("subcategory_id")
    if "category_id" in values and category_id is not None:
        if catalog.get_category(session, category_id).parent_id is not None:
            errors.append({"field": "category_id", "msg": "is a subcategory, not a category"})
    if subcategory_id is not None and ("subcategory_id" in values or "category_id" in values):
        sub = catalog.get_category(session, subcategory_id)
        if sub.parent_id is None or sub.parent_id != category_id:
            errors.append({"field": "subcategory_id", "msg": "is not a subcategory of category_id"})
    service_id, customer_id = value("service_id"), value("customer_id")
    if service_id is not None and ("service_id" in values or "customer_id" in values):
        service = catalog.get_service(session, service_id)
        if service.customer_id is not None and service.customer_id != customer_id:
            errors.append({"field": "service_id", "msg": "is not offered to this customer"})
    ci_id = value("ci_id")
    if ci_id is not None and service_id is not None and ("ci_id" in values or "service_id" in values):
        ci = catalog.get_ci(session, ci_id)
        if ci.service_id is not None and ci.service_id != service_id:
            errors.append({"field": "ci_id", "msg": "does not belong to service_id"})
    caller_id = value("caller_id")
    if caller_id is not None and ("caller_id" in values or "customer_id" in values):
        caller = session.get(User, caller_id)
        if caller is not None and caller.customer_id not in (None, customer_id):
            errors.append({"field": "caller_id", "msg": "belongs to another customer"})
    if errors:
        raise InvalidInput("the incident's references do not fit together", errors=errors)


def _resolve_assignment(
    session: Session, actor: Actor, group_id: int | None, assignee_id: int | None
) -> tuple[SupportGroup | None, User | None]:
    group = people.get_group(session, group_id) if group_id is not None else None
    assignee = None
    if assignee_id is not None:
        assignee = session.get(User, assignee_id)
        if assignee is None or not assignee.is_active or assignee.role == Role.requester:
            raise NotFound("no such agent", errors=[{"field": "assignee_id", "msg": "not found"}])
        if group is not None and not people.is_group_member(session, group.id, assignee.id):
            raise InvalidInput(
                f"{assignee.username} is not a member of {group.name}",
                errors=[{"field": "assignee_id", "msg": "not a member of the group"}],
            )
    return group, assignee


# ---------------------------------------------------------------- logging


def _snapshot(incident: Incident) -> dict[str, Any]:
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


def open_incident(
    session: Session, actor: Actor, data: IncidentCreate, *, settings: Settings
) -> Incident:
    """ITIL logging: checklist, priority, number, first history events (LOG-1)."""
    require_write_scope(actor)
    values = data.model_dump(exclude_unset=True)
    if actor.role == Role.requester:
        staff_only = [f for f in ("assignment_group_id", "assignee_id") if values.get(f) is not None]
        if values.get("caller_id") not in (None, actor.user_id):
            staff_only.append("caller_id")
        if staff_only:
            raise InvalidInput(
                "requesters cannot set these fields",
                errors=[{"field": f, "msg": "only service desk staff may set this"} for f in staff_only],
            )
        values["caller_id"] = actor.user_id
        values.setdefault("customer_id", actor.customer_id)
        values.setdefault("channel", Channel.portal)
    if values.get("caller_id") is not None and values.get("customer_id") is None:
        caller = session.get(User, values["caller_id"])
        if caller is not None and caller.customer_id is not None:
            values["customer_id"] = caller.customer_id
    values.setdefault("channel", Channel.api if actor.channel == "api" else Channel.phone)
    _check_references(session, actor, values)
    group, assignee = _resolve_assignment(
        session, actor, values.get("assignment_group_id"), values.get("assignee_id")
    )
    if assignee is not None and group is None:
        raise InvalidInput(
            "an assignee needs an assignment group",
            errors=[{"field": "assignment_group_id", "msg": "required with assignee_id"}],
        )
    matrix = rules.get_priority_matrix(session)
    checklist = rules.get_checklist(session)
    named = {k.removesuffix("_id"): v for k, v in values.items()}
    named["assignment_group"] = values.get("assignment_group_id")
    missing = missing_checklist_fields(named, checklist)
    if missing:
        raise InvalidInput(
            "the minimum information for logging an incident is missing",
            errors=[{"field": f, "msg": "required by the logging checklist"} for f in missing],
        )
    impact = values.get("impact") or matrix.levels
    urgency = values.get("urgency") or matrix.levels
    _check_levels(matrix.levels, impact, urgency)
    now = clock.now()
    incident = Incident(
        number=next_number(session),
        short_description=values["short_description"],
        description=values.get("description", ""),
        channel=str(values["channel"]),
        caller_id=values.get("caller_id"),
        opened_by_id=actor.user_id,
        customer_id=values.get("customer_id"),
        service_id=values.get("service_id"),
        ci_id=values.get("ci_id"),
        category_id=values.get("category_id"),
        subcategory_id=values.get("subcategory_id"),
        impact=impact,
        urgency=urgency,
        priority=matrix.priority(impact, urgency),
        state=Status.new,
        escalation_level=1,
        reopen_count=0,
        reassignment_count=0,
        opened_at=now,
        updated_at=now,
        history_count=0,
        history_head="",
    )
    session.add(incident)
    history.record(session, incident, actor, "created", new=_snapshot(incident), rule_id="LOG-1")
    history.record(
        session,
        incident,
        actor,
        "priority_changed",
        field="priority",
        new=incident.priority,
        reason=f"impact {impact} × urgency {urgency} → P{incident.priority}",
        rule_id="PRI-1",
    )
    if group is not None:
        _apply_assignment(session, actor, incident, group, assignee, Action.assign, None)
    return incident


def _check_levels(levels: int, impact: int | None, urgency: int | None) -> None:
    errors = [
        {"field": name, "msg": f"must be between 1 (highest) and {levels} (lowest)"}
        for name, val in (("impact", impact), ("urgency", urgency))
        if val is not None and not 1 <= val <= levels
    ]
    if errors:
        raise InvalidInput("impact and urgency are outside the priority matrix", errors=errors)


def _touch(incident: Incident) -> None:
    incident.updated_at = clock.now()


def amend_incident(
    session: Session, actor: Actor, incident: Incident, patch: IncidentPatch
) -> Incident:
    """Change descriptive fields; impact/urgency changes recompute the priority (PRI-2)."""
    require_staff(actor)
    if Status(incident.state) in TERMINAL:
        raise Conflict(f"{incident.number} is {incident.state}; its record is read-only")
    values = patch.model_dump(exclude_unset=True)
    reason = values.pop("reason", None)
    not_null = [f for f in ("short_description", "description", "impact", "urgency") if f in values and values[f] is None]
    if not_null:
        raise InvalidInput(
            "these fields cannot be emptied",
            errors=[{"field": f, "msg": "must not be null"} for f in not_null],
        )
    _check_references(session, actor, values, incident)
    matrix = rules.get_priority_matrix(session)
    _check_levels(matrix.levels, values.get("impact"), values.get("urgency"))
    changed = False
    for name, new in values.items():
        old = getattr(incident, name)
        if old == new:
            continue
        setattr(incident, name, new)
        history.record(session, incident, actor, "field_changed", field=name, old=old, new=new, reason=reason)
        changed = True
    new_priority = matrix.priority(incident.impact, incident.urgency)
    if new_priority != incident.priority:
        why = reason or f"impact {incident.impact} × urgency {incident.urgency} → P{new_priority}"
        history.record(
            session,
            incident,
            actor,
            "priority_changed",
            field="priority",
            old=incident.priority,
            new=new_priority,
            reason=why,
            rule_id="PRI-2",
        )
        incident.priority = new_priority
    if changed:
        _touch(incident)
    return incident


# ---------------------------------------------------------------- actions


def _transition(
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
    if row.target != incident.state:
        history.record(
            session,
            incident,
            actor,
            "state_changed",
            field="state",
            old=incident.state,
            new=row.target.value,
            reason=reason,
            rule_id=row.rule_id,
        )
        incident.state = row.target
    _touch(incident)
    return row.rule_id


def _set(session: Session, actor: Actor, incident: Incident, name: str, new: Any, rule_id: str | None) -> None:
    old = getattr(incident, name)
    if old != new:
        setattr(incident, name, new)
        history.record(session, incident, actor, "field_changed", field=name, old=old, new=new, rule_id=rule_id)


def _acknowledge(incident: Incident, actor: Actor) -> None:
    if incident.acknowledged_at is None and actor.is_staff and actor.actor_type == "user":
        incident.acknowledged_at = clock.now()


def _apply_assignment(
    session: Session,
    actor: Actor,
    incident: Incident,
    group: SupportGroup,
    assignee: User | None,
    action: Action,
    reason: str | None,
) -> None:
    was_assigned = incident.assignment_group_id is not None
    moved = group.id != incident.assignment_group_id or (
        assignee is not None and assignee.id != incident.assignee_id and incident.assignee_id is not None
    )
    rule_id = _transition(session, actor, incident, action, reason=reason)
    _set(session, actor, incident, "assignment_group_id", group.id, rule_id)
    _set(session, actor, incident, "assignee_id", assignee.id if assignee else None, rule_id)
    if was_assigned and moved:
        incident.reassignment_count += 1
    _acknowledge(incident, actor)


def assign(session: Session, actor: Actor, incident: Incident, req: ActionRequest) -> Incident:
    group_id = req.group_id if req.group_id is not None else incident.assignment_group_id
    if group_id is None:
        raise InvalidInput("assign needs a group", errors=[{"field": "group_id", "msg": "required"}])
    group, assignee = _resolve_assignment(session, actor, group_id, req.assignee_id)
    assert group is not None
    _apply_assignment(session, actor, incident, group, assignee, Action.assign, req.reason)
    return incident


def escalate(session: Session, actor: Actor, incident: Incident, req: ActionRequest) -> Incident:
    """Functional escalation to a group of a higher tier (L1 → L2 → L3 → supplier)."""
    if req.group_id is None:
        raise InvalidInput("escalate needs the group to escalate to", errors=[{"field": "group_id", "msg": "required"}])
    group, assignee = _resolve_assignment(session, actor, req.group_id, req.assignee_id)
    assert group is not None
    current = TIER_RANK.get(
        people.get_group(session, incident.assignment_group_id).tier, 1
    ) if incident.assignment_group_id else incident.escalation_level
    if TIER_RANK[group.tier] <= current:
        raise InvalidInput(
            f"{group.name} ({group.tier}) is not a higher tier than the current one",
            errors=[{"field": "group_id", "msg": "must be a higher tier"}],
        )
    _apply_assignment(session, actor, incident, group, assignee, Action.escalate, req.reason)
    _set(session, actor, incident, "escalation_level", TIER_RANK[group.tier], "ESC")
    return incident


def start_work(session: Session, actor: Actor, incident: Incident, req: ActionRequest) -> Incident:
    rule_id = _transition(session, actor, incident, Action.start, reason=req.reason)
    if incident.assignee_id is None and actor.user_id is not None and actor.actor_type == "user":
        _set(session, actor, incident, "assignee_id", actor.user_id, rule_id)
    _acknowledge(incident, actor)
    return incident


def pend(session: Session, actor: Actor, incident: Incident, req: ActionRequest) -> Incident:
    if req.target not in PENDING:
        raise InvalidInput(
            "pend needs a target pending state",
            errors=[{"field": "target", "msg": f"one of {', '.join(sorted(PENDING))}"}],
        )
    if not (req.reason and req.reason.strip()):
        raise InvalidInput("say what the incident is waiting for", errors=[{"field": "reason", "msg": "required"}])
    rule_id = _transition(session, actor, incident, Action.pend, target=req.target, reason=req.reason)
    _set(session, actor, incident, "pending_reason", req.reason, rule_id)
    return incident


def resume(session: Session, actor: Actor, incident: Incident, req: ActionRequest) -> Incident:
    rule_id = _transition(session, actor, incident, Action.resume, reason=req.reason)
    _set(session, actor, incident, "pending_reason", None, rule_id)
    return incident


def resolve(session: Session, actor: Actor, incident: Incident, req: ActionRequest) -> Incident:
    """Resolution needs a code, notes, and whether it is a workaround (RSV guard)."""
    missing = missing_resolution_fields(req.resolution_code, req.resolution_notes, req.is_workaround)
    if missing:
        raise InvalidInput(
            "a resolution needs a code, notes and whether it is a workaround",
            errors=[{"field": f, "msg": "required to resolve"} for f in missing],
        )
    rule_id = _transition(session, actor, incident, Action.resolve, reason=req.reason)
    _set(session, actor, incident, "resolution_code", req.resolution_code, rule_id)
    _set(session, actor, incident, "resolution_notes", req.resolution_notes, rule_id)
    _set(session, actor, incident, "is_workaround", req.is_workaround, rule_id)
    _set(session, actor, incident, "pending_reason", None, rule_id)
    _acknowledge(incident, actor)
    incident.resolved_at = clock.now()
    return incident


def confirm_resolution(session: Session, actor: Actor, incident: Incident, req: ActionRequest) -> Incident:
    _transition(session, actor, incident, Action.confirm, reason=req.reason or "resolution confirmed")
    incident.closed_at = clock.now()
    return incident


def close(session: Session, actor: Actor, incident: Incident, req: ActionRequest) -> Incident:
    _transition(session, actor, incident, Action.close, reason=req.reason)
    incident.closed_at = clock.now()
    return incident


def cancel(session: Session, actor: Actor, incident: Incident, req: ActionRequest) -> Incident:
    if not (req.reason and req.reason.strip()):
        raise InvalidInput("say why the incident is cancelled", errors=[{"field": "reason", "msg": "required"}])
    rule_id = _transition(session, actor, incident, Action.cancel, reason=req.reason)
    _set(session, actor, incident, "cancel_reason", req.reason, rule_id)
    incident.cancelled_at = clock.now()
    return incident


def reopen(
    session: Session, actor: Actor, incident: Incident, req: ActionRequest, *, settings: Settings
) -> Incident:
    """Within the window the same incident reopens (ROP-1); after it a follow-up (ROP-2/3)."""
    if not (req.reason and req.reason.strip()):
        raise InvalidInput("say why the resolution did not work", errors=[{"field": "reason", "msg": "required"}])
    window = timedelta(days=settings.reopen_window_days)
    state = Status(incident.state)
    within = (
        state == Status.resolved
        and incident.resolved_at is not None
        and is_within_reopen_window(incident.resolved_at, clock.now(), window)
    )
    if within:
        _transition(session, actor, incident, Action.reopen, target=Status.in_progress, reason=req.reason)
        incident.reopen_count += 1
        for name in ("resolution_code", "resolution_notes", "is_workaround"):
            _set(session, actor, incident, name, None, "ROP-1")
        incident.resolved_at = None
        return incident
    target = Status.closed if state == Status.closed else Status.resolved
    rule_id = _transition(session, actor, incident, Action.reopen, target=target, reason=req.reason)
    return _open_follow_up(session, actor, incident, req.reason, rule_id)


def _open_follow_up(
    session: Session, actor: Actor, old: Incident, reason: str, rule_id: str
) -> Incident:
    now = clock.now()
    follow = Incident(
        number=next_number(session),
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
        reopen_count=0,
        reassignment_count=0,
        opened_at=now,
        updated_at=now,
        history_count=0,
        history_head="",
    )
    session.add(follow)
    session.flush()  # the link below needs the follow-up's id
    history.record(session, follow, actor, "created", new=_snapshot(follow), reason=reason, rule_id=rule_id)
    session.add(IncidentLink(source_id=follow.id, target_id=old.id, kind="follow_up_of", created_at=now, created_by_id=actor.user_id))
    history.record(session, follow, actor, "link_added", field="follow_up_of", new=old.number, rule_id=rule_id)
    history.record(session, old, actor, "follow_up_opened", field="follow_up", new=follow.number, reason=reason, rule_id=rule_id)
    _touch(old)
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
    """Run one lifecycle action; returns the incident work continues on (a follow-up for ROP-2/3)."""
    require_write_scope(actor)
    try:
        act = Action(action)
    except ValueError as exc:
        raise NotFound(f"there is no action {action!r}", extra={"actions": [a.value for a in Action]}) from exc
    if act == Action.reopen:
        result = reopen(session, actor, incident, req, settings=settings)
    else:
        result = VERBS[act](session, actor, incident, req)
    if req.comment:
        collaboration.add_comment(session, actor, incident, req.comment, "public" if not actor.is_staff else "work_note")
    return result


def ensure_actor_may_act(actor: Actor, incident: Incident) -> None:
    if actor.role == Role.requester and actor.user_id not in (incident.caller_id, incident.opened_by_id):
        raise Forbidden("only the caller may act on this incident")

