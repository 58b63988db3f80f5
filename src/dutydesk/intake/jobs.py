"""The intake job of the worker: missed heartbeats open an incident; flapping alerts that
have calmed down are released (and their incident auto-resolves if all is quiet).

Heartbeats: an integration with ``heartbeat_seconds`` has ``heartbeat_due_at`` set to the
instant its next event is due. Due integrations are claimed by compare-and-set
(``UPDATE … SET heartbeat_due_at = NULL WHERE id = :id AND heartbeat_due_at = :seen``); the
winner ingests a synthetic trigger under the key ``dutydesk:heartbeat`` in the same
transaction, so the alert opens exactly once. The next real event resolves it (and sets the
schedule again).

Maintenance windows: ``release_at`` is the window's end (NULL once released). The worker
claims an ended window the same way and, in the claiming transaction, releases the alerts it
suppressed that still fire (``service.release``, ALR-MW): each opens an incident, joins one
opened by an alert of the same window on the same service/CI, or correlates as a new alert
would. So a window's end is handled exactly once, whatever the number of workers.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.intake import alert_incidents, service
from dutydesk.intake.signals import EventAction, Signal
from dutydesk.kernel import schedule
from dutydesk.models import Alert, Incident, Integration, MaintenanceWindow
from dutydesk.worker import JobRun


def due_heartbeats(session: Session, now: datetime, limit: int) -> list[tuple[int, datetime]]:
    """(id, heartbeat_due_at) of the rows due by `now`, oldest first."""
    return schedule.due(session, Integration.heartbeat_due_at, now, limit)


def claim(session: Session, integration_id: int, seen: datetime) -> bool:
    return schedule.claim(session, Integration.heartbeat_due_at, integration_id, seen)


def fire_heartbeat(
    session: Session, settings: Settings, integration_id: int, now: datetime
) -> None:
    integration = session.get(Integration, integration_id, populate_existing=True)
    if integration is None or not integration.active or integration.revoked_at is not None:
        return
    silent_since = integration.last_event_at or integration.created_at
    minutes = (integration.heartbeat_seconds or 0) // 60
    signal = Signal(
        dedup_key=service.HEARTBEAT_KEY,
        action=EventAction.trigger,
        summary=f"Missed heartbeat: no event from {integration.name} since "
        f"{silent_since:%Y-%m-%d %H:%M} UTC (expected every {minutes} min)",
        severity="critical",
        source="dutydesk",
        labels={"kind": "heartbeat", "integration": integration.name},
    )
    service.ingest_many(session, settings, integration, [signal], heard=False)


def calm_flapping(session: Session, settings: Settings, now: datetime, limit: int) -> int:
    """Flapping alerts without a state change for their window are stable again."""
    rows = session.execute(
        select(Alert, Integration)
        .join(Integration, Integration.id == Alert.integration_id)
        .where(Alert.flapping.is_(True))
        .order_by(Alert.id)
        .limit(limit)
    ).all()
    done = 0
    for alert, integration in rows:
        last = max((datetime.fromisoformat(c) for c in alert.state_changes), default=None)
        window = timedelta(seconds=integration.flap_window_seconds)
        if last is not None and now - last < window:
            continue
        claimed = session.execute(
            update(Alert)
            .where(Alert.id == alert.id, Alert.flapping.is_(True))
            .values(flapping=False)
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) != 1:
            continue
        session.refresh(alert)
        done += 1
        if alert.incident_id is not None and integration.auto_resolve:
            incident = session.get(Incident, alert.incident_id, with_for_update=True)
            if incident is not None:
                alert_incidents.resolve_if_quiet(session, settings, integration, incident)
    return done


def _same_scope(a: Alert, b: Alert) -> bool:
    """The correlation rule (same CI or same service, by catalog id, else by name)."""
    same_ci = (a.ci_id is not None and a.ci_id == b.ci_id) or (
        a.ci_id is None and a.ci_name is not None and a.ci_name == b.ci_name
    )
    same_service = (a.service_id is not None and a.service_id == b.service_id) or (
        a.service_id is None and a.service_name is not None and a.service_name == b.service_name
    )
    return same_ci or same_service


def release_window(session: Session, settings: Settings, window_id: int, now: datetime) -> int:
    """Release the still-firing alerts of a claimed window; the number released."""
    window = session.get(MaintenanceWindow, window_id)
    if window is None:
        return 0
    rows = session.execute(
        select(Alert, Integration)
        .join(Integration, Integration.id == Alert.integration_id)
        .where(
            Alert.suppressed_by_id == window.id,
            Alert.open_key.is_not(None),
            Alert.incident_id.is_(None),
        )
        .order_by(Alert.id)
        .with_for_update(of=Alert)
    ).all()
    placed: list[tuple[Alert, Incident]] = []
    for alert, integration in rows:
        joined = next(
            (
                incident
                for other, incident in placed
                if other.integration_id == alert.integration_id
                and incident.state in alert_incidents.OPEN_STATES
                and _same_scope(alert, other)
            ),
            None,
        )
        service.release(session, settings, integration, alert, window, now, joined=joined)
        if alert.incident_id is not None:
            incident = session.get(Incident, alert.incident_id)
            if incident is not None:
                placed.append((alert, incident))
    return len(rows)


def check_due(db: Database, settings: Settings, now: datetime) -> JobRun:
    with db.unit_of_work(write=False) as session:
        due = due_heartbeats(session, now, settings.worker_batch)
        ended = schedule.due(session, MaintenanceWindow.release_at, now, settings.worker_batch)
        flapping = session.scalar(select(Alert.id).where(Alert.flapping.is_(True)).limit(1))
    done, lag = 0, 0.0
    if due:
        with db.unit_of_work() as session:
            for integration_id, seen in due:
                if not claim(session, integration_id, seen):
                    continue
                fire_heartbeat(session, settings, integration_id, now)
                done += 1
                lag = max(lag, (now - seen).total_seconds())
    for window_id, seen in ended:
        with db.unit_of_work() as session:  # one window per transaction: its alerts together
            if not schedule.claim(session, MaintenanceWindow.release_at, window_id, seen):
                continue
            release_window(session, settings, window_id, now)
            done += 1
            lag = max(lag, (now - seen).total_seconds())
    if flapping is not None:
        with db.unit_of_work() as session:
            done += calm_flapping(session, settings, now, settings.worker_batch)
    return JobRun(done=done, lag_seconds=lag)
