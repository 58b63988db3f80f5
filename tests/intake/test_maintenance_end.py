"""The end of a maintenance window (ALR-MW): alerts it suppressed that still fire open (or
join) an incident, by the worker, exactly once; resolved ones stay quiet; a window still in
force keeps suppressing; a moved or deleted window moves its release."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from dutydesk.access.policy import system_actor
from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.intake import admin, jobs
from dutydesk.intake.schemas import MaintenanceWindowCreate, MaintenanceWindowPatch
from dutydesk.kernel import clock
from dutydesk.models import Alert, Incident, IncidentEvent, MaintenanceWindow
from tests.factories import make_cast
from tests.intake.helpers import alerts, at_once, fire, make_integration, resolve, send

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def window(db: Database, ends: datetime = T0 + HOUR, **scope: Any) -> int:
    with db.unit_of_work() as s:
        created = admin.create_window(
            s,
            system_actor(),
            MaintenanceWindowCreate(name="Patching", starts_at=T0, ends_at=ends, **scope),
        )
        return created.id


def released_events(db: Database) -> list[tuple[int, str | None]]:
    with db.unit_of_work(write=False) as s:
        rows = s.execute(
            select(IncidentEvent.incident_id, IncidentEvent.rule_id)
            .where(IncidentEvent.kind == "alert_released")
            .order_by(IncidentEvent.id)
        ).all()
        return [(i, r) for i, r in rows]


def incident_count(db: Database) -> int:
    with db.unit_of_work(write=False) as s:
        return int(s.scalar(select(func.count()).select_from(Incident)) or 0)


def test_still_firing_alerts_open_one_incident_when_the_window_ends(
    db: Database, settings: Settings, cast: Any
) -> None:
    iid, _ = make_integration(db, assignment_group_id=cast.desk.id)
    wid = window(db, service_id=cast.email_service.id)
    before = incident_count(db)
    with clock.frozen(T0 + timedelta(minutes=10)) as move:
        got = send(
            db,
            settings,
            iid,
            fire("m", ci="mail01"),
            fire("s", service="E-mail"),
            fire("gone", service="E-mail"),
        )
        assert [r.outcome for r in got] == ["suppressed"] * 3
        send(db, settings, iid, resolve("gone"))  # resolved within the window: stays quiet
        move(timedelta(minutes=49))
        assert jobs.check_due(db, settings, clock.now()).done == 0  # not over yet
        assert incident_count(db) == before
        move(timedelta(minutes=2))  # 09:61: the window ended a minute ago
        assert jobs.check_due(db, settings, clock.now()).done == 1
        assert jobs.check_due(db, settings, clock.now()).done == 0  # claimed: once
    rows = {a.dedup_key: a for a in alerts(db, iid)}
    assert rows["m"].incident_id is not None
    assert rows["m"].incident_id == rows["s"].incident_id  # same service: one incident
    assert rows["gone"].incident_id is None
    assert incident_count(db) == before + 1
    assert released_events(db) == [(rows["m"].incident_id, "ALR-MW")] * 2
    with db.unit_of_work(write=False) as s:
        found = s.get(Incident, rows["m"].incident_id)
        assert found is not None and found.assignment_group_id == cast.desk.id
        ended = s.get(MaintenanceWindow, wid)
        assert ended is not None and ended.release_at is None


def test_a_window_still_in_force_keeps_suppressing(
    db: Database, settings: Settings, cast: Any
) -> None:
    iid, _ = make_integration(db)
    window(db, service_id=cast.email_service.id)
    longer = window(db, ends=T0 + 3 * HOUR, ci_id=cast.mail_server.id)
    with clock.frozen(T0 + timedelta(minutes=5)) as move:
        assert send(db, settings, iid, fire("m", ci="mail01"))[0].outcome == "suppressed"
        move(HOUR)
        assert jobs.check_due(db, settings, clock.now()).done == 1
        [alert] = alerts(db, iid)
        assert alert.incident_id is None and alert.suppressed_by_id == longer
        move(2 * HOUR)
        assert jobs.check_due(db, settings, clock.now()).done == 1
    [alert] = alerts(db, iid)
    assert alert.incident_id is not None


def test_moving_or_deleting_the_window_moves_the_release(
    db: Database, settings: Settings, cast: Any
) -> None:
    iid, _ = make_integration(db)
    wid = window(db, service_id=cast.email_service.id)
    with clock.frozen(T0 + timedelta(minutes=5)) as move:
        send(db, settings, iid, fire("a", service="E-mail"))
        with db.unit_of_work() as s:
            found = s.get(MaintenanceWindow, wid)
            assert found is not None
            admin.update_window(
                s, system_actor(), found, MaintenanceWindowPatch(ends_at=T0 + 2 * HOUR)
            )
        move(HOUR)  # the old end passed: nothing happens
        assert jobs.check_due(db, settings, clock.now()).done == 0
        with db.unit_of_work() as s:  # deleting a used window ends it now
            found = s.get(MaintenanceWindow, wid)
            assert found is not None
            admin.delete_window(s, system_actor(), found)
        assert jobs.check_due(db, settings, clock.now()).done == 1
    [alert] = alerts(db, iid)
    assert alert.incident_id is not None


def test_several_workers_release_a_window_exactly_once(
    fresh_db: Database, settings: Settings
) -> None:
    cast = make_cast(fresh_db)
    iid, _ = make_integration(fresh_db)
    window(fresh_db, service_id=cast.email_service.id)
    with clock.frozen(T0 + timedelta(minutes=5)):
        keys = [f"k{n}" for n in range(20)]
        send(fresh_db, settings, iid, *(fire(k, service="E-mail") for k in keys[:10]))
        send(fresh_db, settings, iid, *(fire(k, ci="mail01") for k in keys[10:]))
    done = at_once(lambda: jobs.check_due(fresh_db, settings, T0 + 2 * HOUR).done)
    assert sorted(done) == [0, 0, 0, 1]
    with fresh_db.unit_of_work(write=False) as s:
        placed = s.scalars(select(Alert.incident_id).where(Alert.integration_id == iid)).all()
    assert len(set(placed)) == 1 and None not in placed  # one incident for the 20 alerts
    assert incident_count(fresh_db) == 1
    assert len(released_events(fresh_db)) == 20
