"""The SLA job of the worker: fire the warnings and breaches whose instant has come.

Due clocks are found through the partial index on ``sla_clock.next_check_at``. Each one is
claimed with a compare-and-set (``UPDATE … SET next_check_at = NULL WHERE id = :id AND
next_check_at = :seen``) that must change exactly one row; a clock another worker claimed
first, or that an incident change moved since we looked, changes no row and is skipped. The
claim, the firing, its history event and its notifications commit together, so a crash
before the commit leaves the clock due, and after it nothing fires again.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from dutydesk.access.policy import system_actor
from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.escalation import service as escalation
from dutydesk.incidents import history
from dutydesk.kernel import schedule
from dutydesk.models import Incident, SlaClock
from dutydesk.notify import service as notify
from dutydesk.sla import policy as rules
from dutydesk.sla import service
from dutydesk.worker import JobRun

log = logging.getLogger("dutydesk.sla")
ACTOR = system_actor(channel="worker", name="sla")


def due_clocks(session: Session, now: datetime, limit: int) -> list[tuple[int, datetime]]:
    """(id, next_check_at) of the rows due by `now`, oldest first."""
    return schedule.due(session, SlaClock.next_check_at, now, limit)


def claim(session: Session, clock_id: int, seen: datetime) -> bool:
    return schedule.claim(session, SlaClock.next_check_at, clock_id, seen)


def fire_one(session: Session, settings: Settings, clock_id: int, now: datetime) -> float | None:
    """Fire what is due on one claimed clock; returns how late it was (None: nothing)."""
    row = session.get(SlaClock, clock_id, populate_existing=True)
    if row is None:
        return None
    # Locked and fresh: the escalation job and requests change incidents concurrently.
    incident = session.get(Incident, row.incident_id, with_for_update=True, populate_existing=True)
    if incident is None:
        return None
    cal = service.calendar_of(session, row.calendar_id)
    before = service.as_clock(row)
    after, firing = rules.fire(cal, before, now)
    if firing is not None and firing.is_breach:
        row.breached_at = firing.at
    service.store(row, cal, after, now)
    if firing is None:
        return None
    late = (now - firing.at).total_seconds()
    view = rules.view(cal, after, now)
    name = row.kind if row.kind != "ola" else f"ola:{row.group_id}"
    what = "breached" if firing.is_breach else f"reached {firing.percent} %"
    reason = f"{name} target {what}" + (f"; fired {late:.0f} s late" if firing.late else "")
    history.record(
        session,
        incident,
        ACTOR,
        "sla_breached" if firing.is_breach else "sla_warning",
        field=f"sla.{name}",
        new={
            "percent": firing.percent,
            "at": firing.at.isoformat(),
            "late": firing.late,
            "elapsed_seconds": view.elapsed_seconds,
            "target_seconds": row.target_seconds,
        },
        reason=reason,
        rule_id="CLK-B" if firing.is_breach else "CLK-W",
    )
    notify.announce(
        session,
        settings,
        incident,
        "sla_breached" if firing.is_breach else "sla_warning",
        actor=ACTOR,
        occurrence=f"clock{row.id}-{firing.percent}",
        extra={"clock": {"kind": name, "due": row.due_at, "percent": firing.percent}},
    )
    if firing.is_breach:  # an OLA's auto escalation, a priority raise (same transaction)
        escalation.after_breach(session, settings, incident, row, late=firing.late)
    return late


def fire_due(db: Database, settings: Settings, now: datetime) -> JobRun:
    """Claim and fire the clocks due by `now`, one batch in one transaction."""
    with db.unit_of_work(write=False) as session:
        due = due_clocks(session, now, settings.worker_batch)
    if not due:
        return JobRun()
    done, lag = 0, 0.0
    with db.unit_of_work() as session:
        for clock_id, seen in due:
            if not claim(session, clock_id, seen):
                continue  # another worker fired it, or the incident moved it
            late = fire_one(session, settings, clock_id, now)
            done += 1
            if late is not None:
                lag = max(lag, late)
    return JobRun(done=done, lag_seconds=lag)
