"""Escalation writes on incidents (never commit): functional escalation along the paths, the
automatic escalation and priority raise of an SLA breach, and hierarchic levels firing.

Every escalation appends a history event (``escalated_functional`` or
``escalated_hierarchic``, with its rule id) and an ``incident_escalation`` row in the
transaction of the change, and is announced ("escalated"); the outbox rows commit with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, Role, can_see_incident, require_staff, system_actor
from dutydesk.config import Settings
from dutydesk.escalation import queries, rules, schedule
from dutydesk.incidents import changes, history, notices
from dutydesk.incidents.lifecycle import OPEN, Action, InvalidTransition, Status, next_transition
from dutydesk.kernel import clock
from dutydesk.kernel.errors import Conflict, InvalidInput
from dutydesk.models import (
    EscalationLevel,
    Incident,
    IncidentEscalation,
    SlaClock,
    SupportGroup,
    User,
)
from dutydesk.notify import service as notify
from dutydesk.people import queries as people
from dutydesk.sla import policy as clocks_rules
from dutydesk.sla import service as sla

ACTOR = system_actor(channel="worker", name="escalation")
ON_DEMAND = "HL-D"  # a hierarchic escalation asked for without a level
READERS = "dutydesk.escalation.readers"  # session.info: recipients' reach, per session


# ----------------------------------------------------------------------------- functional


def path_for(session: Session, incident: Incident) -> rules.Path | None:
    return rules.best_path(
        queries.active_paths(session),
        incident.category_id,
        incident.subcategory_id,
        incident.service_id,
    )


def current_rank(session: Session, incident: Incident) -> int:
    if incident.assignment_group_id is None:
        return incident.escalation_level
    return rules.TIER_RANK.get(people.get_group(session, incident.assignment_group_id).tier, 1)


def next_step(session: Session, incident: Incident) -> rules.Step | None:
    """The next step of the incident's escalation path (None: no path, or at its end)."""
    path = path_for(session, incident)
    if path is None:
        return None
    return rules.next_step(path, incident.assignment_group_id, current_rank(session, incident))


def escalate_to(
    session: Session,
    actor: Actor,
    incident: Incident,
    group: SupportGroup,
    assignee: User | None,
    *,
    reason: str | None,
    step: rules.Step | None = None,
    trigger: str = "manual",
    late: bool = False,
) -> IncidentEscalation:
    """Functional escalation to `group` (ESC-n), logged with the path step's rule id (EP-p.s)
    or, for a group named by hand, the transition's."""
    try:
        row = next_transition(Status(incident.state), Action.escalate, actor.role)
    except InvalidTransition as exc:
        raise changes.refuse(exc) from exc
    from_group_id = incident.assignment_group_id
    changes.apply_assignment(session, actor, incident, group, assignee, Action.escalate, reason)
    rank = rules.TIER_RANK.get(group.tier, incident.escalation_level)
    changes.set_field(session, actor, incident, "escalation_level", rank, row.rule_id)
    detail: dict[str, Any] = {
        "trigger": trigger,
        "from_group_id": from_group_id,
        "to_group_id": group.id,
        "to_group": group.name,
    }
    if step is not None:
        detail.update(path_id=step.path_id, step=step.level)
    if late:
        detail["late"] = True
    return _log(
        session,
        actor,
        incident,
        kind="functional",
        trigger=trigger,
        rule_id=step.rule_id if step is not None else row.rule_id,
        reason=reason,
        detail=detail,
        late=late,
        path_id=step.path_id if step is not None else None,
        step=step.level if step is not None else None,
        from_group_id=from_group_id,
        to_group_id=group.id,
    )


def after_breach(
    session: Session, settings: Settings, incident: Incident, row: SlaClock, *, late: bool
) -> None:
    """What an SLA breach fired by the worker sets off, in its transaction: a breached OLA of
    the group holding the incident escalates along an `auto` step; a breached resolution
    raises the priority when the SLA policy says so (SPEC §3)."""
    if Status(incident.state) not in OPEN:
        return
    if row.kind == "ola" and row.group_id == incident.assignment_group_id:
        _escalate_on_ola_breach(session, settings, incident, late=late)
    elif row.kind == "resolution":
        _raise_priority(session, incident)


def _escalate_on_ola_breach(
    session: Session, settings: Settings, incident: Incident, *, late: bool
) -> None:
    path = path_for(session, incident)
    step = rules.auto_next_step(path, incident.assignment_group_id) if path else None
    if path is None or step is None or incident.assignment_group_id is None:
        return
    old = people.get_group(session, incident.assignment_group_id)
    group = people.get_group(session, step.group_id)
    reason = (
        f"the {old.name} OLA was breached: escalated to {group.name} "
        f"(step {step.level} of the path {path.name!r})"
    )
    old_state, old_owner = incident.state, (incident.assignment_group_id, incident.assignee_id)
    escalate_to(
        session,
        ACTOR,
        incident,
        group,
        None,
        reason=reason,
        step=step,
        trigger="automatic",
        late=late,
    )
    sla.sync_clocks(session, ACTOR, incident)
    notices.after_action(
        session,
        settings,
        ACTOR,
        incident,
        Action.escalate,
        old_state=old_state,
        old_owner=old_owner,
        reason=reason,
    )


def _raise_priority(session: Session, incident: Incident) -> None:
    policy = sla.policy_for(session, incident)
    new = rules.raised_priority(incident.priority)
    if not policy.raise_priority_on_breach or new is None:
        return
    history.record(
        session,
        incident,
        ACTOR,
        "priority_changed",
        field="priority",
        old=incident.priority,
        new=new,
        reason=f"the resolution target of {policy.name!r} was breached and the policy raises "
        f"the priority on breach: P{incident.priority} → P{new}",
        rule_id="PRI-3",
    )
    incident.priority = new
    changes.touch(incident)
    sla.sync_clocks(session, ACTOR, incident)  # re-targets the clocks (CLK-T)


# ----------------------------------------------------------------------------- hierarchic


def timed_clocks(session: Session, incident: Incident) -> dict[str, rules.Timed]:
    """The incident's response and resolution clocks with their calendars."""
    return {
        row.kind: (sla.calendar_of(session, row.calendar_id), sla.as_clock(row))
        for row in sla.clocks_of(session, incident)
        if row.kind != "ola"
    }


def fire_due_levels(
    session: Session, settings: Settings, incident: Incident, now: datetime
) -> list[IncidentEscalation]:
    """Fire every level due by `now` once (the worker claimed the incident), then reschedule."""
    clocks = timed_clocks(session, incident)
    fired = schedule.fired_levels(incident)
    due: list[tuple[rules.Level, datetime]] = []
    if Status(incident.state) in OPEN:
        due = rules.due_now(
            schedule.active_levels(session),
            incident.priority,
            incident.assignment_group_id,
            fired,
            clocks,
            now,
        )
    done = []
    for level, at in due:
        late = rules.is_late(at, now)
        reason = f"{level.name}: {describe(level)}"
        if late:
            reason += f"; fired {(now - at).total_seconds():.0f} s late"
        done.append(
            _fire(
                session,
                settings,
                ACTOR,
                incident,
                level,
                clocks,
                reason=reason,
                trigger="automatic",
                late=late,
            )
        )
    if due:
        incident.escalation_levels_fired = sorted(fired | {level.id for level, _at in due})
        schedule.reschedule(session, incident, clocks)
    else:
        schedule.reschedule_quietly(session, incident, clocks)
    return done


def escalate_hierarchic(
    session: Session,
    settings: Settings,
    actor: Actor,
    incident: Incident,
    *,
    reason: str,
    level_id: int | None = None,
) -> IncidentEscalation:
    """Escalation on demand: tell the level's people, or without a level the group's manager
    and the incident managers (HL-D). A level fired on demand does not fire again by itself."""
    require_staff(actor)
    if Status(incident.state) not in OPEN:
        raise Conflict(f"{incident.number} is {incident.state}; only open incidents are escalated")
    level = None
    if level_id is not None:
        row = session.get(EscalationLevel, level_id)
        if row is None or not row.active:
            raise InvalidInput(
                f"there is no active escalation level {level_id}",
                errors=[{"field": "level_id", "msg": "no such active level"}],
            )
        level = schedule.as_level(row)
    clocks = timed_clocks(session, incident)
    done = _fire(
        session,
        settings,
        actor,
        incident,
        level,
        clocks,
        reason=reason,
        trigger="manual",
        late=False,
    )
    if level is not None and rules.applies(level, incident.priority, incident.assignment_group_id):
        fired = schedule.fired_levels(incident)
        incident.escalation_levels_fired = sorted(fired | {level.id})
        schedule.reschedule(session, incident, clocks)
    changes.touch(incident)
    return done


def describe(level: rules.Level) -> str:
    if level.trigger == rules.Trigger.percent:
        return f"{level.percent} % of the {level.clock_kind.value} target used"
    return f"{_human(level.delay_seconds or 0)} of business time on the resolution clock"


def recipients(session: Session, incident: Incident, level: rules.Level | None) -> list[int]:
    """Whom a level tells: the group's manager, the incident managers, named users; only
    active staff who may see the incident."""
    wanted: list[int] = []
    if (level is None or level.notify_group_manager) and incident.assignment_group_id:
        group = session.get(SupportGroup, incident.assignment_group_id)
        if group is not None and group.manager_id is not None:
            wanted.append(group.manager_id)
    if level is None or level.notify_incident_managers:
        wanted.extend(
            session.scalars(
                select(User.id)
                .where(User.role == Role.incident_manager.value, User.is_active.is_(True))
                .order_by(User.id)
            )
        )
    if level is not None:
        wanted.extend(level.notify_user_ids)
    return [uid for uid in dict.fromkeys(wanted) if _may_see(session, uid, incident)]


def _may_see(session: Session, user_id: int, incident: Incident) -> bool:
    """Whether the user may see the incident; their reach is read once per session."""
    known: dict[int, Actor | None] = session.info.setdefault(READERS, {})
    if user_id not in known:
        user = session.get(User, user_id)
        usable = user is not None and user.is_active and user.role != Role.requester.value
        known[user_id] = (
            people.build_actor(session, user, channel="worker") if user and usable else None
        )
    reader = known[user_id]
    return reader is not None and can_see_incident(reader, incident)


def _fire(
    session: Session,
    settings: Settings,
    actor: Actor,
    incident: Incident,
    level: rules.Level | None,
    clocks: Mapping[str, rules.Timed],
    *,
    reason: str,
    trigger: str,
    late: bool,
) -> IncidentEscalation:
    now = clock.now()
    notified = recipients(session, incident, level)
    names = {u.id: u.username for u in session.scalars(select(User).where(User.id.in_(notified)))}
    detail: dict[str, Any] = {
        "trigger": trigger,
        "level": level.name if level is not None else None,
        "notified": [names[i] for i in notified if i in names],
        "late": late,
    }
    done = _log(
        session,
        actor,
        incident,
        kind="hierarchic",
        trigger=trigger,
        rule_id=level.rule_id if level is not None else ON_DEMAND,
        reason=reason,
        detail=detail,
        late=late,
        level_id=level.id if level is not None else None,
        from_group_id=incident.assignment_group_id,
        notified=notified,
    )
    extra: dict[str, object] = {
        "level": level.name if level is not None else "management",
        "comment": reason,
    }
    occurrence = f"hl-{incident.history_head}"  # on demand: this escalation's own event
    if level is not None:
        timed = clocks.get(level.clock_kind.value)
        if timed is not None:
            view = clocks_rules.view(timed[0], timed[1], now)
            extra["clock"] = {
                "kind": level.clock_kind.value,
                "due": view.due_at,
                "percent": round(view.percent),
            }
        if trigger == "automatic":
            occurrence = f"hl{level.id}-inc{incident.id}"  # once per level and incident
    notify.announce(
        session,
        settings,
        incident,
        "escalated",
        actor=actor,
        occurrence=occurrence,
        extra=extra,
        recipients=notified,
    )
    return done


# ----------------------------------------------------------------------------- the log


def _log(
    session: Session,
    actor: Actor,
    incident: Incident,
    *,
    kind: str,
    trigger: str,
    rule_id: str,
    reason: str | None,
    detail: dict[str, Any],
    late: bool = False,
    path_id: int | None = None,
    step: int | None = None,
    level_id: int | None = None,
    from_group_id: int | None = None,
    to_group_id: int | None = None,
    notified: list[int] | None = None,
) -> IncidentEscalation:
    assert incident.id is not None, "escalations are logged on stored incidents"
    history.record(
        session,
        incident,
        actor,
        f"escalated_{kind}",
        field="escalation",
        new=detail,
        reason=reason,
        rule_id=rule_id,
    )
    session.info.setdefault(queries.ESCALATED, set()).add(incident.id)
    row = IncidentEscalation(
        incident_id=incident.id,
        kind=kind,
        trigger=trigger,
        rule_id=rule_id,
        path_id=path_id,
        step=step,
        level_id=level_id,
        from_group_id=from_group_id,
        to_group_id=to_group_id,
        notified_user_ids=list(notified or []),
        reason=reason,
        actor_id=actor.user_id,
        actor_name=actor.name,
        at=clock.now(),
        late=late,
    )
    session.add(row)
    return row


def _human(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"
