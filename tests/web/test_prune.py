"""The worker's housekeeping of web sign-in: dead sessions and old reset rows are deleted
once per period, live ones kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.kernel import clock
from dutydesk.models import PasswordReset, WebSession
from dutydesk.people import jobs
from dutydesk.worker import default_jobs
from tests.factories import Cast
from tests.web.conftest import sign_in

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def count(db: Database, model: type[WebSession] | type[PasswordReset]) -> int:
    with db.unit_of_work(write=False) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_the_job_is_registered() -> None:
    assert ("web_prune", jobs.prune_due) in default_jobs()


def test_dead_sessions_and_old_reset_rows_are_pruned_once_a_period(
    client: TestClient, second: TestClient, cast: Cast, db: Database, settings: Settings
) -> None:
    idle = timedelta(minutes=settings.session_idle_minutes)
    with clock.frozen(START) as advance:
        sign_in(client, "alice")
        page = client.get("/password/forgot")
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        client.post("/password/forgot", data={"login": "bob", "csrf_token": csrf})
        assert jobs.prune_due(db, settings, clock.now()).done == 1  # first run: nothing dead
        assert count(db, WebSession) == 1 and count(db, PasswordReset) == 1
        advance(idle / 2)
        sign_in(second, "eve")  # alive at the next run
        advance(idle / 2 + timedelta(minutes=1))
        assert jobs.prune_due(db, settings, clock.now()).done == 1
        assert count(db, WebSession) == 1  # alice's idle session went, eve's stays
        assert second.get("/queues").status_code == 200
        assert jobs.prune_due(db, settings, clock.now()).done == 0  # not due again yet
        advance(timedelta(days=1))
        assert jobs.prune_due(db, settings, clock.now()).done == 1
        assert count(db, PasswordReset) == 0 and count(db, WebSession) == 0
