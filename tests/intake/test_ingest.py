"""ingest(): dedup, correlation, auto-resolve, severity mapping, flapping, maintenance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from dutydesk.access.policy import system_actor
from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.intake import admin, jobs, service
from dutydesk.intake.schemas import MaintenanceWindowCreate
from dutydesk.kernel import clock
from dutydesk.models import Alert, Incident, Integration, Notification
from tests.intake.helpers import ack, alerts, fire, incident, make_integration, resolve, send

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def count(db: Database, model: Any) -> int:
    with db.unit_of_work(write=False) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_pagerduty_dedup_semantics(db: Database, settings: Settings) -> None:
    iid, _ = make_integration(db)
    first = send(db, settings, iid, fire("k"))[0]
    assert first.outcome == "created" and first.incident_number
    again = send(db, settings, iid, fire("k"), fire("k"))
    assert [r.outcome for r in again] == ["deduplicated", "deduplicated"]
    assert {r.alert_id for r in again} == {first.alert_id}
    assert send(db, settings, iid, ack("k"))[0].outcome == "acknowledged"
    assert send(db, settings, iid, resolve("k"))[0].outcome == "resolved"
    # Late acknowledge/resolve of a resolved or unknown key: logged and ignored.
    late = send(db, settings, iid, resolve("k"), ack("k"), resolve("never-seen"))
    assert {r.outcome for r in late} == {"ignored"}
    # After the resolution, a trigger opens a new alert.
    reborn = send(db, settings, iid, fire("k"))[0]
    assert reborn.outcome == "created" and reborn.alert_id != first.alert_id
    rows = alerts(db, iid)
    assert [(a.status, a.occurrences) for a in rows] == [("resolved", 5), ("triggered", 1)]
    assert rows[0].acknowledged_at is not None and rows[0].open_key is None


def test_correlation_by_service_within_the_window(
    db: Database, settings: Settings, cast: Any
) -> None:
    iid, _ = make_integration(db, correlation_seconds=600)
    with clock.frozen(T0) as move:
        a = send(db, settings, iid, fire("a", service="E-mail"))[0]
        move(timedelta(minutes=5))
        b = send(db, settings, iid, fire("b", ci="mail01"))[0]  # the CI's service is E-mail
        c = send(db, settings, iid, fire("c", service="Elsewhere"))[0]
        move(timedelta(minutes=7))
        d = send(db, settings, iid, fire("d", service="E-mail"))[0]  # a's window is over…
        move(timedelta(minutes=11))
        e = send(db, settings, iid, fire("e", service="E-mail"))[0]  # and now every one
    assert (a.outcome, b.outcome, c.outcome) == ("created", "correlated", "created")
    assert b.incident_number == a.incident_number != c.incident_number
    assert d.outcome == "correlated"  # …but b's (5 minutes later) is not
    assert e.outcome == "created" and e.incident_number != a.incident_number
    assert a.incident_number is not None
    state, events = incident(db, a.incident_number)
    assert [r for k, r in events if k == "alert_attached"] == ["ALR-1", "ALR-C", "ALR-C"]
    assert state == "new"
    with db.unit_of_work(write=False) as s:
        found = s.scalars(select(Incident).where(Incident.number == a.incident_number)).one()
        assert found.channel == "monitoring" and found.service_id == cast.email_service.id


def test_auto_resolve_when_every_alert_resolved(
    db: Database, settings: Settings, cast: Any
) -> None:
    iid, _ = make_integration(db)
    a, b = send(db, settings, iid, fire("a", service="E-mail"), fire("b", service="E-mail"))
    number = a.incident_number
    assert number is not None and b.incident_number == number
    send(db, settings, iid, resolve("a"))
    assert incident(db, number)[0] == "new"
    notes = count(db, Notification)
    send(db, settings, iid, resolve("b"))
    state, events = incident(db, number)
    assert state == "resolved"
    assert ("alert_resolved", "ALR-R") in events and events[-1][0].startswith("sla")
    # nobody is asked to confirm: the caller is the integration's own service account
    assert count(db, Notification) == notes
    # An integration without auto-resolve leaves the incident to the desk.
    manual, _ = make_integration(db, "manual", auto_resolve=False)
    x = send(db, settings, manual, fire("x"))[0]
    send(db, settings, manual, resolve("x"))
    assert x.incident_number is not None and incident(db, x.incident_number)[0] == "new"


def test_severity_maps_to_impact_and_urgency(db: Database, settings: Settings) -> None:
    iid, _ = make_integration(db, severity_map={"warning": [1, 1]})
    crit = send(db, settings, iid, fire("c", severity="critical"))[0]
    warn = send(db, settings, iid, fire("w", severity="warning"))[0]
    info = send(db, settings, iid, fire("i", severity="info"))[0]
    with db.unit_of_work(write=False) as s:
        got = {
            n: (i, u, p)
            for n, i, u, p in s.execute(
                select(Incident.number, Incident.impact, Incident.urgency, Incident.priority)
            ).all()
        }
    assert got[str(crit.incident_number)] == (1, 1, 1)
    assert got[str(warn.incident_number)] == (1, 1, 1)  # the integration's own mapping
    assert got[str(info.incident_number)][:2] == (3, 3)


def test_notifications_only_for_new_incidents(db: Database, settings: Settings, cast: Any) -> None:
    iid, _ = make_integration(db, assignment_group_id=cast.desk.id)
    send(db, settings, iid, fire("a", service="E-mail"))
    after_first = count(db, Notification)
    assert after_first >= 1  # the Service Desk hears of the new incident
    send(db, settings, iid, fire("a"), fire("b", service="E-mail"))
    assert count(db, Notification) == after_first  # duplicates and correlations are quiet


def test_maintenance_window_records_but_opens_nothing(
    db: Database, settings: Settings, cast: Any
) -> None:
    iid, _ = make_integration(db, assignment_group_id=cast.desk.id)
    with db.unit_of_work() as s:
        window = admin.create_window(
            s,
            system_actor(),
            MaintenanceWindowCreate(
                name="Mail server patching",
                starts_at=T0,
                ends_at=T0 + timedelta(hours=1),
                service_id=cast.email_service.id,  # covers its CIs too
            ),
        )
        window_id = window.id
    incidents, notes = count(db, Incident), count(db, Notification)
    with clock.frozen(T0 + timedelta(minutes=10)) as move:
        under = send(db, settings, iid, fire("m", ci="mail01"), fire("s", service="E-mail"))
        assert [r.outcome for r in under] == ["suppressed", "suppressed"]
        assert send(db, settings, iid, fire("m", ci="mail01"))[0].outcome == "deduplicated"
        assert (count(db, Incident), count(db, Notification)) == (incidents, notes)
        assert [a.suppressed_by_id for a in alerts(db, iid)] == [window_id, window_id]
        move(timedelta(hours=1))
        assert send(db, settings, iid, fire("later", ci="mail01"))[0].outcome == "created"


def test_flapping_is_quiet_until_stable(db: Database, settings: Settings, cast: Any) -> None:
    iid, _ = make_integration(
        db, assignment_group_id=cast.desk.id, flap_changes=2, flap_window_seconds=600
    )
    with clock.frozen(T0) as move:
        first = send(db, settings, iid, fire("f"))[0]
        send(db, settings, iid, resolve("f"))  # 2 changes: not yet flapping; resolves
        assert first.incident_number and incident(db, first.incident_number)[0] == "resolved"
        notes = count(db, Notification)
        second = send(db, settings, iid, fire("f"))[0]  # 3rd change: flapping
        assert alerts(db, iid)[-1].flapping
        assert count(db, Notification) == notes  # opened without telling anybody
        send(db, settings, iid, resolve("f"))
        assert second.incident_number and incident(db, second.incident_number)[0] == "new"
        third = send(db, settings, iid, fire("f"))[0]
        assert third.outcome == "correlated" and third.incident_number == second.incident_number
        send(db, settings, iid, resolve("f"))
        move(timedelta(minutes=5))
        assert jobs.check_due(db, settings, clock.now()).done == 0  # still within the window
        move(timedelta(minutes=6))
        assert jobs.check_due(db, settings, clock.now()).done == 2  # both flapping alerts
    state, events = incident(db, second.incident_number)
    assert state == "resolved" and ("alert_attached", "ALR-F") in events
    assert not any(a.flapping for a in alerts(db, iid))


def test_one_call_counts_each_alert_in_order(db: Database, settings: Settings) -> None:
    """Occurrences are added once per call (Core), yet a resolve and a new trigger of the same
    key inside the call still split them between the two alerts in arrival order."""
    iid, _ = make_integration(db, flap_changes=1000)
    send(db, settings, iid, fire("old"))
    got = send(
        db,
        settings,
        iid,
        *[fire("k")] * 3,
        fire("old"),
        resolve("k"),
        *[fire("k")] * 2,
        ack("k"),
        fire("old"),
        resolve("k"),
        fire("k"),
    )
    assert [r.outcome for r in got] == [
        "created",
        "deduplicated",
        "deduplicated",
        "deduplicated",
        "resolved",
        "created",
        "deduplicated",
        "acknowledged",
        "deduplicated",
        "resolved",
        "created",
    ]
    rows = alerts(db, iid)
    assert [(a.dedup_key, a.occurrences, a.open_key) for a in rows] == [
        ("old", 3, "old"),
        ("k", 4, None),
        ("k", 4, None),
        ("k", 1, "k"),
    ]
    assert len({a.incident_id for a in rows}) == 4
    assert [len(a.state_changes) for a in rows[1:]] == [2, 4, 5]  # carried to the next alert


def test_duplicates_then_resolve_in_one_transaction(db: Database, settings: Settings) -> None:
    """As in a group-commit batch: a key only duplicated by one call (read light) and then
    resolved by the next call of the same transaction, with its counts read back."""
    iid, _ = make_integration(db, flap_changes=1000)
    first = send(db, settings, iid, fire("k"))[0]
    with db.unit_of_work() as s:
        integration = s.get(Integration, iid)
        assert integration is not None
        dups = service.ingest_many(s, settings, integration, [fire("k"), fire("k")])
        assert {(d.outcome, d.incident_number) for d in dups} == {
            ("deduplicated", first.incident_number)
        }
        done = service.ingest_many(s, settings, integration, [fire("k"), resolve("k")])
        assert [d.outcome for d in done] == ["deduplicated", "resolved"]
        alert = s.get(Alert, first.alert_id)
        assert alert is not None and alert.occurrences == 5 and alert.open_key is None
    state, _events = incident(db, first.incident_number or "")
    assert state == "resolved"
    assert [(a.occurrences, a.status) for a in alerts(db, iid)] == [(5, "resolved")]
