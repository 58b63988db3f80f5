"""The worker: ticks, heartbeats on /healthz, SIGTERM, and exactly-once with four processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dutydesk.access.policy import system_actor
from dutydesk.app import create_app
from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.escalation import admin as escalation_admin
from dutydesk.incidents.schemas import IncidentCreate
from dutydesk.incidents.service import open_incident
from dutydesk.kernel import clock
from dutydesk.models import (
    Incident,
    IncidentEscalation,
    IncidentEvent,
    Notification,
    SlaClock,
    WorkerHeartbeat,
)
from dutydesk.people.queries import build_actor
from dutydesk.worker import JobRun, Worker, health
from tests.factories import make_cast

DUTYDESK = str(Path(sys.executable).parent / "dutydesk")


def _env(db: Database, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUTYDESK_")}
    env["DUTYDESK_DATABASE_URL"] = db.engine.url.render_as_string(hide_password=False)
    env.update(extra)
    return env


def test_a_tick_runs_every_job_until_idle_and_writes_a_heartbeat(
    db: Database, settings: Settings
) -> None:
    calls: list[str] = []
    backlog = {"a": 3}

    def job_a(_db: Database, _s: Settings, _now: datetime) -> JobRun:
        calls.append("a")
        if backlog["a"]:
            backlog["a"] -= 1
            return JobRun(done=1, lag_seconds=2.5)
        return JobRun()

    def broken(_db: Database, _s: Settings, _now: datetime) -> JobRun:
        calls.append("broken")
        raise RuntimeError("boom")

    worker = Worker(db, settings, jobs=[("broken", broken), ("a", job_a)], worker_id="w1")
    with clock.frozen(datetime(2026, 1, 5, 12, tzinfo=UTC)) as advance:
        assert worker.tick() == 3  # a broken job does not stop the others
        assert calls.count("a") == 4 and calls.count("broken") == 4
        state = health(db)
        assert state["status"] == "ok" and state["alive"] == 1
        assert state["lag_seconds"] == 2.5
        advance(timedelta(minutes=5))
        assert health(db)["status"] == "stale"  # no heartbeat for five minutes


def test_healthz_reports_the_worker(db: Database, settings: Settings) -> None:
    client = TestClient(create_app(settings, db))
    assert client.get("/healthz").json()["worker"]["status"] == "none"
    Worker(db, settings, jobs=[], worker_id="w2").tick()
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["worker"]["status"] == "ok"


def test_sigterm_stops_the_worker_gracefully(fresh_db: Database) -> None:
    proc = subprocess.Popen(
        [DUTYDESK, "worker"],
        env=_env(fresh_db, DUTYDESK_WORKER_POLL_SECONDS="0.05"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait for its first heartbeat
            with fresh_db.unit_of_work(write=False) as s:
                if s.scalar(select(func.count()).select_from(WorkerHeartbeat)):
                    break
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    with fresh_db.unit_of_work(write=False) as s:
        stopped = s.scalars(select(WorkerHeartbeat.stopped_at)).one()
    assert stopped is not None


INCIDENTS = 600  # x 2 clocks x 2 levels: 2,400 jobs, claimed 10 at a time by 4 workers
HIERARCHIC_LEVELS = (
    {"name": "Response missed", "trigger": "percent", "clock": "response", "percent": 100},
    {"name": "After an hour", "trigger": "delay", "delay_seconds": 3600},
)


@pytest.fixture
def overdue(fresh_db: Database) -> Iterator[Database]:
    """INCIDENTS incidents logged two days ago: both clocks of each are due at once, and two
    hierarchic levels (telling the incident manager) of each."""
    cast = make_cast(fresh_db)
    with fresh_db.unit_of_work() as s:
        for level in HIERARCHIC_LEVELS:
            escalation_admin.create_level(
                s, system_actor(), {**level, "notify_incident_managers": True}
            )
    with clock.frozen(datetime.now(UTC) - timedelta(days=2)), fresh_db.unit_of_work() as s:
        actor = build_actor(s, cast.dave.user)
        for i in range(INCIDENTS):
            open_incident(
                s,
                actor,
                IncidentCreate(short_description=f"overdue {i}", impact=2, urgency=2),
                settings=Settings(),
            )
    yield fresh_db


@pytest.mark.heavy
def test_four_workers_fire_each_breach_exactly_once(overdue: Database) -> None:
    db = overdue
    env = _env(db, DUTYDESK_WORKER_BATCH="10")
    procs = [
        subprocess.Popen(
            [DUTYDESK, "worker", "--once"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=300)[0].decode() for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    with db.unit_of_work(write=False) as s:
        fired: Any = s.execute(
            select(IncidentEvent.incident_id, IncidentEvent.field, func.count())
            .where(IncidentEvent.kind == "sla_breached")
            .group_by(IncidentEvent.incident_id, IncidentEvent.field)
        ).all()
        left = s.scalar(
            select(func.count()).select_from(SlaClock).where(SlaClock.next_check_at.is_not(None))
        )
        done = {b.worker_id: b.jobs_done for b in s.scalars(select(WorkerHeartbeat))}
        escalated: Any = s.execute(
            select(
                IncidentEscalation.incident_id, IncidentEscalation.rule_id, func.count()
            ).group_by(IncidentEscalation.incident_id, IncidentEscalation.rule_id)
        ).all()
        logged: Any = s.execute(
            select(IncidentEvent.incident_id, IncidentEvent.rule_id, func.count())
            .where(IncidentEvent.kind == "escalated_hierarchic")
            .group_by(IncidentEvent.incident_id, IncidentEvent.rule_id)
        ).all()
        mailed: Any = s.execute(
            select(Notification.incident_id, Notification.recipient_user_id, func.count())
            .where(Notification.event == "escalated")
            .group_by(Notification.incident_id, Notification.recipient_user_id)
        ).all()
        still_scheduled = s.scalar(
            select(func.count())
            .select_from(Incident)
            .where(Incident.escalation_check_at.is_not(None))
        )
    assert len(fired) == 2 * INCIDENTS  # (response, resolution) of each
    assert {count for _i, _f, count in fired} == {1}  # each exactly once
    assert left == 0
    assert len(done) == 4 and sum(done.values()) >= 3 * INCIDENTS
    levels = len(HIERARCHIC_LEVELS)
    assert len(escalated) == len(logged) == INCIDENTS * levels  # each level of each incident
    assert {count for _i, _r, count in escalated} == {count for _i, _r, count in logged} == {1}
    assert len(mailed) == INCIDENTS and {count for _i, _u, count in mailed} == {levels}  # ivy
    assert still_scheduled == 0
