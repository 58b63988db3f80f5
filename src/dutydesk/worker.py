"""The worker: one loop, the database as the schedule (house style §5).

Every domain that has timed or deferred work exports a job, ``(db, now) -> JobRun``: it
finds what is due in an indexed column (an SLA clock's ``next_check_at``, a notification's
``next_attempt_at``, an incident's ``auto_close_at`` or ``escalation_check_at``), claims
each item with a compare-and-set that must change exactly one row, does the work and
commits. Any number of worker processes can run against one database: a claim that another
worker won changes no row and is skipped, so nothing fires twice.

The loop runs every job until none has anything due, writes its heartbeat (shown by
``GET /healthz``), and sleeps ``worker_poll_seconds``; SIGTERM/SIGINT end it after the
current item. Work found late (after downtime) is done once, and each job marks it late.
Jobs take transactions themselves (rather than receiving a session) because a delivery job
must not hold a write transaction open while it talks to a mail server.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import FrameType

from sqlalchemy import select, update

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.kernel import clock
from dutydesk.models import WorkerHeartbeat

log = logging.getLogger("dutydesk.worker")
STALE_AFTER = timedelta(seconds=60)  # a heartbeat older than this: that worker is gone


@dataclass(frozen=True)
class JobRun:
    """What one call of a job did: items handled, and how late the latest one was."""

    done: int = 0
    lag_seconds: float = 0.0


Job = Callable[[Database, Settings, datetime], JobRun]


def default_jobs() -> list[tuple[str, Job]]:
    """Every domain's job, in the order a tick runs them."""
    # cycle: the domains import the kernel and models, and the worker imports the domains
    from dutydesk.escalation.jobs import fire_due as fire_escalations
    from dutydesk.incidents.jobs import close_due
    from dutydesk.intake.jobs import check_due as check_intake
    from dutydesk.intake.mail.imap import poll_mailbox
    from dutydesk.notify import jobs as notify_jobs
    from dutydesk.people.jobs import prune_due as prune_web
    from dutydesk.reports.jobs import send_weekly
    from dutydesk.sla.jobs import fire_due as fire_sla
    from dutydesk.triage.jobs import retrain_due

    return [
        ("sla", fire_sla),
        ("escalation", fire_escalations),
        ("auto_close", close_due),
        ("intake", check_intake),
        ("mail_in", poll_mailbox),
        ("weekly_report", send_weekly),
        ("web_prune", prune_web),
        ("notify", notify_jobs.deliver_due),
        ("triage_retrain", retrain_due),
    ]


@dataclass
class Worker:
    db: Database
    settings: Settings
    jobs: Sequence[tuple[str, Job]] = field(default_factory=default_jobs)
    worker_id: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
    )
    stopping: threading.Event = field(default_factory=threading.Event)
    max_rounds_per_tick: int = 1000

    def tick(self) -> int:
        """Run every job until nothing is due (or the stop flag is set); then a heartbeat."""
        done, lag = 0, 0.0
        for _round in range(self.max_rounds_per_tick):
            round_done = 0
            for name, job in self.jobs:
                if self.stopping.is_set():
                    break
                try:
                    run = job(self.db, self.settings, clock.now())
                except Exception:  # one job's failure must not stop the others
                    log.exception("worker job %s failed", name)
                    continue
                round_done += run.done
                lag = max(lag, run.lag_seconds)
            done += round_done
            if not round_done or self.stopping.is_set():
                break
        self.beat(done, lag)
        return done

    def run(self, *, once: bool = False) -> None:
        log.info("worker %s started", self.worker_id)
        try:
            while not self.stopping.is_set():
                self.tick()
                if once:
                    break
                self.stopping.wait(self.settings.worker_poll_seconds)
        finally:
            self.beat(0, 0.0, stopped=True)
            log.info("worker %s stopped", self.worker_id)

    def stop_on_signals(self) -> None:
        def handler(signum: int, _frame: FrameType | None) -> None:
            log.info("worker %s: signal %s, finishing the current item", self.worker_id, signum)
            self.stopping.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def beat(self, done: int, lag: float, *, stopped: bool = False) -> None:
        now = clock.now()
        try:
            with self.db.unit_of_work() as session:
                row = session.get(WorkerHeartbeat, self.worker_id)
                if row is None:
                    row = WorkerHeartbeat(
                        worker_id=self.worker_id,
                        hostname=socket.gethostname(),
                        pid=os.getpid(),
                        started_at=now,
                        beat_at=now,
                        ticks=0,
                        jobs_done=0,
                        lag_seconds=0.0,
                    )
                    session.add(row)
                    session.flush()
                session.execute(
                    update(WorkerHeartbeat)
                    .where(WorkerHeartbeat.worker_id == self.worker_id)
                    .values(
                        beat_at=now,
                        ticks=WorkerHeartbeat.ticks + 1,
                        jobs_done=WorkerHeartbeat.jobs_done + done,
                        lag_seconds=lag,
                        stopped_at=now if stopped else None,
                    )
                )
        except Exception:
            log.exception("worker %s: heartbeat not written", self.worker_id)


def health(db: Database, now: datetime | None = None) -> dict[str, object]:
    """The workers' state for /healthz: the latest heartbeat and how many are alive."""
    now = now or clock.now()
    with db.unit_of_work(write=False) as session:
        rows = session.execute(
            select(WorkerHeartbeat.beat_at, WorkerHeartbeat.lag_seconds).where(
                WorkerHeartbeat.stopped_at.is_(None)
            )
        ).all()
    alive = [r for r in rows if now - r.beat_at <= STALE_AFTER]
    latest = max((r.beat_at for r in rows), default=None)
    return {
        "status": "ok" if alive else ("stale" if rows else "none"),
        "alive": len(alive),
        "last_beat": latest.isoformat() if latest else None,
        "age_seconds": round((now - latest).total_seconds(), 3) if latest else None,
        "lag_seconds": max((r.lag_seconds for r in alive), default=None),
    }


def run_in_thread(worker: Worker) -> threading.Thread:
    """The worker inside `dutydesk serve`: a daemon thread stopped with the server."""
    thread = threading.Thread(target=worker.run, name="dutydesk-worker", daemon=True)
    thread.start()
    return thread
