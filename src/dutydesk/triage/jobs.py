"""The worker's retraining: the triage models are retrained from the resolved incidents every
``triage_retrain_hours``.

The schedule is the one ``triage_schedule`` row's ``retrain_at``. A worker claims it by
compare-and-set (``kernel.schedule``) and moves it to the next run in the same short
transaction, then trains with no transaction open and stores each model in its own. So two
workers never train at once, and a worker that dies mid-training loses only that run (the
next one is already scheduled). Too little history is not an error: the run records why it
stored nothing, and the next run tries again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.kernel import schedule
from dutydesk.models import TriageSchedule
from dutydesk.triage.queries import TARGETS
from dutydesk.worker import JobRun

log = logging.getLogger("dutydesk.triage")


def retrain_due(db: Database, settings: Settings, now: datetime) -> JobRun:
    if settings.triage_retrain_hours <= 0:
        return JobRun()
    with db.unit_of_work(write=False) as session:
        due = schedule.due(session, TriageSchedule.retrain_at, now, 1)
    if not due:
        return JobRun()
    ident, seen = due[0]
    with db.unit_of_work() as session:
        if not schedule.claim(session, TriageSchedule.retrain_at, ident, seen):
            return JobRun()
        row = session.get(TriageSchedule, ident)
        assert row is not None
        row.retrain_at = now + timedelta(hours=settings.triage_retrain_hours)
        row.last_run_at = now
        row.last_result = "training"
    # cycle: none; deferred: the worker imports scikit-learn only when a training is due
    from dutydesk.triage import training

    outcomes = training.train_from_incidents(db, settings, list(TARGETS))
    summary = "; ".join(
        f"{o.target}: v{o.version} ({o.n_examples} examples)"
        if o.version
        else f"{o.target}: {o.skipped}"
        for o in outcomes
    )
    with db.unit_of_work() as session:
        row = session.get(TriageSchedule, ident)
        if row is not None:
            row.last_result = summary[:4000]
    log.info("triage retrained: %s", summary)
    return JobRun(done=1, lag_seconds=(now - seen).total_seconds())
