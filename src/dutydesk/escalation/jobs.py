"""The escalation job of the worker: fire the hierarchic levels whose instant has come.

Due incidents are found through the partial index on ``incident.escalation_check_at``. Each
one is claimed with a compare-and-set (``UPDATE … SET escalation_check_at = NULL WHERE id =
:id AND escalation_check_at = :seen``) that must change exactly one row; an incident another
worker claimed first, or that a change rescheduled since we looked, changes no row and is
skipped. The claim, the firings, their history and notifications and the new schedule commit
together, so a crash before the commit leaves the incident due, and after it nothing fires
again (the fired levels are remembered on the incident).

Each incident is handled in a transaction of its own: the claim locks the incident row, and
holding one incident lock at a time cannot deadlock with the SLA job or a request, which
lock incidents in other orders.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.escalation import service
from dutydesk.kernel import schedule
from dutydesk.models import Incident
from dutydesk.worker import JobRun

log = logging.getLogger("dutydesk.escalation")


def due_incidents(session: Session, now: datetime, limit: int) -> list[tuple[int, datetime]]:
    """(id, escalation_check_at) of the rows due by `now`, oldest first."""
    return schedule.due(session, Incident.escalation_check_at, now, limit)


def claim(session: Session, incident_id: int, seen: datetime) -> bool:
    return schedule.claim(session, Incident.escalation_check_at, incident_id, seen)


def fire_one(session: Session, settings: Settings, incident_id: int, now: datetime) -> int:
    """Fire what is due on one claimed incident and reschedule it; returns how many fired."""
    incident = session.get(Incident, incident_id, populate_existing=True)
    if incident is None:
        return 0
    return len(service.fire_due_levels(session, settings, incident, now))


def fire_due(db: Database, settings: Settings, now: datetime) -> JobRun:
    """Claim and handle the incidents due by `now`, each in its own transaction.

    One session serves the batch (its identity map keeps the users, groups and customers
    every firing reads); each incident commits on its own.
    """
    with db.unit_of_work(write=False) as session:
        due = due_incidents(session, now, settings.worker_batch)
    done, lag = 0, 0.0
    with db.write_sessions() as session:
        for incident_id, seen in due:
            try:
                with session.begin():
                    if not claim(session, incident_id, seen):
                        continue  # another worker took it, or a change rescheduled it
                    fired = fire_one(session, settings, incident_id, now)
            except Exception:  # one incident's failure must not hold up the others
                log.exception("escalation of incident %s failed; it stays due", incident_id)
                continue
            done += 1
            if fired:
                lag = max(lag, (now - seen).total_seconds())
    return JobRun(done=done, lag_seconds=lag)
