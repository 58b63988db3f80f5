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
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from dutydesk.config import Settings
from dutydesk.db import Database, make_engine
from dutydesk.kernel import schedule
from dutydesk.models import Incident, TriageSchedule
from dutydesk.triage.queries import LEARNED_STATES, TARGETS
from dutydesk.worker import JobRun

if TYPE_CHECKING:
    from dutydesk.triage.training import Outcome

log = logging.getLogger("dutydesk.triage")


def _train(db: Database, settings: Settings, targets: list[str]) -> list[Outcome]:
    """Train in a child process: minutes of feature extraction holding the GIL would stall
    the web server that runs this worker in a thread (measured: queue pages 20 -> 300 ms at
    p95 while it trained on 700,000 incidents). A database joined to a test's transaction is
    only visible here, so tests train in this process."""
    if db.bound or not _enough_history(db, settings):
        return _train_here(db, settings, targets)
    spawn = multiprocessing.get_context("spawn")  # no fork of a process with threads
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        return pool.submit(_train_in_child, settings.model_dump(), targets).result()


def _enough_history(db: Database, settings: Settings) -> bool:
    """Whether a training has enough incidents to learn from. With fewer it stops at once
    (each target says why), which is cheaper here than starting a process: seconds of
    imports, paid by every fresh database's first worker tick."""
    need = settings.triage_min_examples
    learned = [*LEARNED_STATES, "cancelled"]
    with db.unit_of_work(write=False) as session:
        capped = select(Incident.id).where(Incident.state.in_(learned)).limit(need).subquery()
        return (session.scalar(select(func.count()).select_from(capped)) or 0) >= need


def _train_in_child(settings_data: dict[str, Any], targets: list[str]) -> list[Outcome]:
    settings = Settings(**settings_data)
    engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        return _train_here(Database(engine), settings, targets)
    finally:
        engine.dispose()


def _train_here(db: Database, settings: Settings, targets: list[str]) -> list[Outcome]:
    # cycle: none; deferred: the worker imports scikit-learn only when a training is due
    from dutydesk.triage import training

    return training.train_from_incidents(db, settings, targets)


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
    outcomes = _train(db, settings, list(TARGETS))
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
