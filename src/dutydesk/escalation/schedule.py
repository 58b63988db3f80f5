"""An incident's hierarchic-escalation schedule: ``escalation_check_at``.

``sla.service.sync_clocks`` calls ``reschedule`` at the end of every reconciliation, so the
schedule follows every change of the incident's clocks (start, pause, resume, re-target on a
priority change, stop on resolution, the group changing) whoever made it: a request, the CLI,
an import or the worker. The worker's escalation job claims the incident by a compare-and-set
on this column. This module receives the clocks instead of importing ``sla.service``, which
imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from dutydesk.escalation import rules
from dutydesk.incidents.lifecycle import OPEN, Status
from dutydesk.models import EscalationLevel, Incident

LEVELS = "dutydesk.escalation.levels"  # session.info cache, per transaction


def as_level(row: EscalationLevel) -> rules.Level:
    return rules.Level(
        id=row.id,
        name=row.name,
        priority=row.priority,
        group_id=row.group_id,
        trigger=rules.Trigger(row.trigger),
        clock=rules.ClockKind(row.clock) if row.clock else None,
        percent=row.percent,
        delay_seconds=row.delay_seconds,
        notify_group_manager=row.notify_group_manager,
        notify_incident_managers=row.notify_incident_managers,
        notify_user_ids=tuple(row.notify_user_ids or ()),
    )


_ACTIVE_LEVELS = (  # built once: every write batch that logs or changes an incident runs it
    select(EscalationLevel).where(EscalationLevel.active.is_(True)).order_by(EscalationLevel.id)
)


def active_levels(session: Session) -> tuple[rules.Level, ...]:
    """The active levels as plain values, read once per transaction."""
    cached: tuple[rules.Level, ...] | None = session.info.get(LEVELS)
    if cached is None:
        cached = tuple(as_level(row) for row in session.scalars(_ACTIVE_LEVELS))
        session.info[LEVELS] = cached
    return cached


def forget_cached(session: Session) -> None:
    session.info.pop(LEVELS, None)


def fired_levels(incident: Incident) -> frozenset[int]:
    return frozenset(incident.escalation_levels_fired or ())


def next_check_at(
    session: Session, incident: Incident, clocks: Mapping[str, rules.Timed]
) -> datetime | None:
    """The instant the incident's next level is due (None: none left, or not open)."""
    levels = active_levels(session)
    if not levels or Status(incident.state) not in OPEN:
        return None
    return rules.next_check_at(
        levels, incident.priority, incident.assignment_group_id, fired_levels(incident), clocks
    )


def reschedule(session: Session, incident: Incident, clocks: Mapping[str, rules.Timed]) -> None:
    """Set ``escalation_check_at`` as part of the write in progress."""
    due = next_check_at(session, incident, clocks)
    if incident.escalation_check_at != due:
        incident.escalation_check_at = due


def reschedule_quietly(
    session: Session, incident: Incident, clocks: Mapping[str, rules.Timed]
) -> None:
    """The same when nothing else changes (the worker found nothing due): no new version of
    the incident, so nobody's ETag goes stale because a schedule was recomputed."""
    due = next_check_at(session, incident, clocks)
    session.execute(
        update(Incident)
        .where(Incident.id == incident.id)
        .values(escalation_check_at=due)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(incident, "escalation_check_at", due)
