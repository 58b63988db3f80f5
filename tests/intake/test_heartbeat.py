"""Heartbeats (dead man's switch) through the worker's intake job, with moved time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.intake import jobs
from dutydesk.intake.service import HEARTBEAT_KEY
from dutydesk.kernel import clock
from dutydesk.models import Incident
from tests.intake.helpers import alerts, fire, incident, make_integration, send

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_missed_heartbeat_opens_an_incident_once_and_the_next_event_resolves_it(
    db: Database, settings: Settings
) -> None:
    with clock.frozen(T0) as move:
        iid, _ = make_integration(db, heartbeat_seconds=300)
        move(timedelta(seconds=200))
        send(db, settings, iid, fire("cpu"))  # heard: due again at +500 s
        move(timedelta(seconds=250))
        assert jobs.check_due(db, settings, clock.now()).done == 0
        move(timedelta(seconds=60))
        run = jobs.check_due(db, settings, clock.now())
        assert run.done == 1 and run.lag_seconds == 10
        assert jobs.check_due(db, settings, clock.now()).done == 0  # claimed: fires once
        move(timedelta(hours=2))
        assert jobs.check_due(db, settings, clock.now()).done == 0  # silence is one incident
        beat = [a for a in alerts(db, iid) if a.dedup_key == HEARTBEAT_KEY]
        assert len(beat) == 1 and beat[0].status == "triggered" and beat[0].severity == "critical"
        number = send(db, settings, iid, fire("cpu"))[0].incident_number  # the source is back
        assert number is not None
    beat = [a for a in alerts(db, iid) if a.dedup_key == HEARTBEAT_KEY]
    assert beat[0].status == "resolved"
    assert beat[0].incident_id is not None
    with db.unit_of_work(write=False) as s:
        inc = s.get(Incident, beat[0].incident_id)
        assert inc is not None and "Missed heartbeat" in inc.short_description
        assert incident(db, inc.number)[0] == "resolved"


def test_without_heartbeat_nothing_is_due(db: Database, settings: Settings) -> None:
    with clock.frozen(T0) as move:
        make_integration(db, "quiet")
        move(timedelta(days=3))
        assert jobs.check_due(db, settings, clock.now()).done == 0
