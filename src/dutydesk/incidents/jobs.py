"""The incidents' worker job: close resolved incidents the requester did not answer.

``auto_close_at`` is the schedule (a partial index covers it). Each due incident is claimed
with a compare-and-set (``UPDATE … SET auto_close_at = NULL WHERE id = :id AND
auto_close_at = :seen``); a requester's answer or another worker in between changes it, so
nothing is closed twice. The close, its history, clocks and notifications commit together.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from dutydesk.access.policy import system_actor
from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.incidents import changes, confirmation, notices
from dutydesk.incidents.lifecycle import Action, Status
from dutydesk.kernel import schedule
from dutydesk.models import Incident
from dutydesk.sla import service as sla
from dutydesk.worker import JobRun

log = logging.getLogger("dutydesk.incidents")
AUTO_CLOSE = system_actor(channel="worker", name="auto-close")
LATE_AFTER_SECONDS = 60.0  # closing later than this after the due time is flagged as late


def due(session: Session, now: datetime, limit: int) -> list[tuple[int, datetime]]:
    """(id, auto_close_at) of the rows due by `now`, oldest first."""
    return schedule.due(session, Incident.auto_close_at, now, limit)


def claim(session: Session, incident_id: int, seen: datetime) -> bool:
    return schedule.claim(session, Incident.auto_close_at, incident_id, seen)


def close_one(
    session: Session, settings: Settings, incident_id: int, due_at: datetime, now: datetime
) -> float | None:
    """Close one claimed incident; returns how late (seconds), None when it had moved on."""
    incident = session.get(Incident, incident_id, populate_existing=True)
    if incident is None or incident.state != Status.resolved:
        return None
    late = max(0.0, (now - due_at).total_seconds())
    reason = "closed automatically: the requester did not answer by " + due_at.strftime(
        "%Y-%m-%d %H:%M UTC"
    )
    if late > LATE_AFTER_SECONDS:
        reason += f"; closed {late:.0f} s late"
    old_state = incident.state
    rule_id = changes.transition(session, AUTO_CLOSE, incident, Action.close, reason=reason)
    incident.closed_at = now
    sla.sync_clocks(session, AUTO_CLOSE, incident)
    confirmation.sync(session, settings, incident, old_state)
    notices.after_action(
        session,
        settings,
        AUTO_CLOSE,
        incident,
        Action.close,
        old_state=old_state,
        old_owner=(incident.assignment_group_id, incident.assignee_id),
        reason=reason,
    )
    log.info("%s %s (%s)", incident.number, reason, rule_id)
    return late


def close_due(db: Database, settings: Settings, now: datetime) -> JobRun:
    """The worker job: close the resolved incidents whose waiting time has passed."""
    with db.unit_of_work(write=False) as session:
        found = due(session, now, settings.worker_batch)
    if not found:
        return JobRun()
    done, lag = 0, 0.0
    with db.unit_of_work() as session:
        for incident_id, seen in found:
            if not claim(session, incident_id, seen):
                continue  # another worker closed it, or the requester answered meanwhile
            late = close_one(session, settings, incident_id, seen, now)
            if late is not None:
                done += 1
                lag = max(lag, late)
    return JobRun(done=done, lag_seconds=lag)
