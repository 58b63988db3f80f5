"""ingest(): the one writer every monitoring source goes through (dedup, correlation,
maintenance, flapping, auto-resolve). It never commits; the receiver's unit of work does.

Rule ids in the incident history: ALR-1 an alert opened the incident, ALR-C an alert was
correlated onto it, ALR-A acknowledged, ALR-R resolved, ALR-AR every alert resolved so the
incident resolved, ALR-F flapping. Deduplicated occurrences are counted on the alert only.

What a call reads once, counts in memory and writes at its end (open alerts by key, light
rows for keys that only trigger, occurrences) is in `intake.call`; so is the state of the
incident work a call puts off to do it for many alerts at once (`_settle_before`). The
incident side (opening one for an alert, correlation, maintenance windows, the
auto-resolve) is in `intake.alert_incidents`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dutydesk.config import Settings
from dutydesk.incidents import history
from dutydesk.intake import alert_incidents, call
from dutydesk.intake.call import Ingested as Ingested  # the result type callers name
from dutydesk.intake.signals import EventAction, Outcome, Signal, clip, raw_text
from dutydesk.kernel import clock
from dutydesk.kernel.group_commit import PINNED
from dutydesk.models import (
    Alert,
    ConfigurationItem,
    Incident,
    Integration,
    MaintenanceWindow,
    Service,
)

log = logging.getLogger("dutydesk.intake")
HEARTBEAT_KEY = "dutydesk:heartbeat"


def ingest(
    session: Session, settings: Settings, integration: Integration, signal: Signal
) -> Ingested:
    """Record one signal and open, update or resolve what it concerns."""
    return ingest_many(session, settings, integration, [signal])[0]


def ingest_many(
    session: Session,
    settings: Settings,
    integration: Integration,
    signals: list[Signal],
    *,
    heard: bool = True,
) -> list[Ingested]:
    """Signals in order, reading the open alerts of all their keys in one query. `heard`:
    the signals came from the integration (so its heartbeat is alive)."""
    own = PINNED not in session.info
    if own:  # a lone call holds what it loads, as a group-commit batch does (kernel)
        session.info[PINNED] = []
    try:
        return _ingest_once(session, settings, integration, signals, heard)
    finally:
        if own:
            session.info.pop(PINNED, None)


def _ingest_once(
    session: Session,
    settings: Settings,
    integration: Integration,
    signals: list[Signal],
    heard: bool,
) -> list[Ingested]:
    """A call that opens alerts writes them together, inside a savepoint of its own: if
    another process opened one of the keys a moment ago (PostgreSQL; the unique open key
    says so at the flush), the call is rolled back and run again carefully, each new alert
    flushed on its own, so it finds that alert and counts the event as a duplicate."""
    now = clock.now()
    batch = call.Batch(numbers=session.info.setdefault(call.NUMBERS, {}))
    known: dict[tuple[int, str], Alert | call.OpenRow] = session.info.setdefault(
        call.OPEN_ALERTS, {}
    )
    call.read_open_alerts(session, integration, signals, batch, known)
    changing = {s.dedup_key for s in signals if s.action != EventAction.trigger}
    reopening = any(s.action == EventAction.trigger and s.dedup_key in changing for s in signals)
    if not (batch.latest or reopening):  # no key opens an alert: nothing can race
        return _ingest(session, settings, integration, signals, heard, now, batch, known)
    try:
        with session.begin_nested():
            return _ingest(session, settings, integration, signals, heard, now, batch, known)
    except IntegrityError:
        log.info("intake: %s opened an alert of this call meanwhile: again", integration.name)
    batch = call.Batch(numbers=session.info.setdefault(call.NUMBERS, {}), careful=True)
    known = session.info.setdefault(call.OPEN_ALERTS, {})
    known.clear()
    call.read_open_alerts(session, integration, signals, batch, known)
    return _ingest(session, settings, integration, signals, heard, now, batch, known)


def _ingest(
    session: Session,
    settings: Settings,
    integration: Integration,
    signals: list[Signal],
    heard: bool,
    now: datetime,
    batch: call.Batch,
    known: dict[tuple[int, str], Alert | call.OpenRow],
) -> list[Ingested]:
    for signal in signals:
        _settle_before(session, settings, integration, signal, batch)
        batch.results.append(_one(session, settings, integration, signal, now, batch))
    heartbeat = any(s.dedup_key == HEARTBEAT_KEY for s in signals)
    if heard and _heard(integration, now) and not heartbeat:
        back = Signal(HEARTBEAT_KEY, EventAction.resolve, source="dutydesk")
        if HEARTBEAT_KEY not in batch.alerts:
            batch.alerts[HEARTBEAT_KEY] = call.open_alert(session, integration, HEARTBEAT_KEY)
        _settle_before(session, settings, integration, back, batch)
        _one(session, settings, integration, back, now, batch)
    _open_pending(session, settings, integration, batch)
    _resolve_pending(session, settings, integration, batch)
    _flush_new(session, batch)
    for key, met in batch.alerts.items():
        if met is not None and met.open_key == key:
            known[(integration.id, key)] = met
        else:
            known.pop((integration.id, key), None)
    call.write_seen(session, batch, now)
    return batch.results


def _settle_before(
    session: Session,
    settings: Settings,
    integration: Integration,
    signal: Signal,
    batch: call.Batch,
) -> None:
    """Do the incident work put off so far before a signal that could see it undone, so a
    call has the outcome it would have if each alert's incident were opened, and each
    incident resolved, at once. Openings are put off until a signal of the same key (it
    reports or changes that incident) or a new alert that could be correlated onto one of
    them; the auto-resolve checks until a new alert (correlation and flapping look at
    which incidents are open). When both wait, the openings are the older: a new alert
    settles the checks before its opening is put off."""
    new_alert = signal.action == EventAction.trigger and batch.alerts.get(signal.dedup_key) is None
    if batch.resolving and new_alert:
        _open_pending(session, settings, integration, batch)
        _resolve_pending(session, settings, integration, batch)
        return
    if not batch.opening:
        return
    if signal.dedup_key in batch.opening_keys or (
        new_alert and _may_correlate(integration, signal, batch.opening)
    ):
        _open_pending(session, settings, integration, batch)


def _may_correlate(integration: Integration, signal: Signal, opening: list[call.Opening]) -> bool:
    """Whether a new alert of `signal` might be correlated onto an incident put off: both
    need a service or CI (`alert_incidents.correlated`)."""
    if integration.correlation_seconds <= 0:
        return False
    if not (signal.service or signal.ci or integration.service_id):
        return False
    return any(
        o.alert.service_id or o.alert.ci_id or o.alert.service_name or o.alert.ci_name
        for o in opening
    )


def _open_pending(
    session: Session, settings: Settings, integration: Integration, batch: call.Batch
) -> None:
    if not batch.opening:
        return
    opening, batch.opening = batch.opening, []
    batch.opening_keys.clear()
    _flush_new(session, batch)
    opened = alert_incidents.open_for_alerts(
        session, settings, integration, [(o.alert, o.service, o.ci) for o in opening]
    )
    for item, incident in zip(opening, opened, strict=True):
        number = None
        if incident is not None:
            batch.numbers[incident.id] = number = incident.number
        done = batch.results[item.index]
        batch.results[item.index] = Ingested(done.outcome, done.dedup_key, item.alert.id, number)


def _flush_new(session: Session, batch: call.Batch) -> None:
    """Write the alerts added since the last flush (one INSERT for them all): they get ids."""
    if batch.new:
        session.flush()
        batch.new.clear()


def _resolve_pending(
    session: Session, settings: Settings, integration: Integration, batch: call.Batch
) -> None:
    if batch.resolving:
        resolving, batch.resolving = batch.resolving, []
        alert_incidents.resolve_quiet(session, settings, integration, resolving)


def _heard(integration: Integration, now: datetime) -> bool:
    """Keep the heartbeat schedule; True when a missed heartbeat had fired (or never ran)."""
    if not integration.heartbeat_seconds:
        if integration.last_event_at is None or now - integration.last_event_at > timedelta(
            seconds=60
        ):
            integration.last_event_at = now
        return False
    fired = integration.heartbeat_due_at is None
    due = now + timedelta(seconds=integration.heartbeat_seconds)
    stale = integration.last_event_at is None or now - integration.last_event_at >= timedelta(
        seconds=1
    )
    if fired or stale:
        integration.last_event_at = now
        integration.heartbeat_due_at = due
    return fired


def _one(
    session: Session,
    settings: Settings,
    integration: Integration,
    signal: Signal,
    now: datetime,
    batch: call.Batch,
) -> Ingested:
    key = signal.dedup_key
    met = batch.alerts.get(key)
    if signal.action == EventAction.trigger:
        if met is not None:
            call.count(batch, met.id)
            return Ingested(
                Outcome.deduplicated, key, met.id, call.number_of(session, met.incident_id, batch)
            )
        return _trigger(session, settings, integration, signal, now, batch)
    if met is None:  # PagerDuty: a late acknowledge/resolve of an unknown key is dropped
        log.info(
            "intake: %s of %r on %s ignored: no open alert",
            signal.action,
            key,
            integration.name,
        )
        return Ingested(Outcome.ignored, key)
    alert = call.full_alert(session, met, batch)
    call.count(batch, alert.id)
    actor = alert_incidents.integration_actor(integration)
    if signal.action == EventAction.acknowledge:
        if alert.status == "triggered":
            alert.status = "acknowledged"
            alert.acknowledged_at = now
            incident = call.locked_incident(session, alert.incident_id, batch)
            if incident is not None:
                history.record(
                    session,
                    incident,
                    actor,
                    "alert_acknowledged",
                    field=f"alert.{alert.id}",
                    new={"dedup_key": key},
                    rule_id="ALR-A",
                )
        return Ingested(
            Outcome.acknowledged, key, alert.id, call.number_of(session, alert.incident_id, batch)
        )
    return _resolve(session, settings, integration, alert, now, batch)


def _trigger(
    session: Session,
    settings: Settings,
    integration: Integration,
    signal: Signal,
    now: datetime,
    batch: call.Batch,
) -> Ingested:
    key = signal.dedup_key
    service, ci = _catalog(session, integration, signal, batch)
    previous: Alert | call.LatestRow | None
    if key in batch.latest:
        previous = batch.latest[key]
    else:
        previous = session.scalar(
            select(Alert)
            .where(Alert.integration_id == integration.id, Alert.dedup_key == key)
            .order_by(Alert.id.desc())
            .limit(1)
        )
    changes = [
        *_recent(previous.state_changes if previous else [], now, integration),
        now.isoformat(),
    ]
    alert = Alert(
        integration_id=integration.id,
        dedup_key=key,
        open_key=key,
        status="triggered",
        severity=signal.severity,
        summary=clip(signal.summary or key, 1024),
        source=signal.source,
        service_name=signal.service,
        ci_name=signal.ci,
        service_id=service.id if service else None,
        ci_id=ci.id if ci else None,
        labels=signal.labels,
        links=signal.links,
        payload=raw_text(signal.raw, settings.intake_payload_max_chars),
        occurrences=1,
        first_seen_at=now,
        last_seen_at=now,
        state_changes=changes,
        flapping=len(changes) > integration.flap_changes,
    )
    if batch.careful:
        try:
            with session.begin_nested():
                session.add(alert)
                session.flush()
        except IntegrityError:  # another process opened this key a moment ago: the same alert
            existing = call.open_alert(session, integration, key)
            if existing is None:
                raise
            call.count(batch, existing.id)
            batch.alerts[key] = existing
            return Ingested(
                Outcome.deduplicated,
                key,
                existing.id,
                call.number_of(session, existing.incident_id, batch),
            )
    else:  # written with the call's other new alerts (`_flush_new`); a race: `_ingest_once`
        session.add(alert)
        batch.new.append(alert)
    batch.alerts[key] = alert
    batch.latest[key] = alert
    window = alert_incidents.maintenance_window(session, integration, alert, now)
    if window is not None:
        _flush_new(session, batch)
        alert.suppressed_by_id = window.id
        return Ingested(Outcome.suppressed, key, alert.id)
    actor = alert_incidents.integration_actor(integration)
    target = None
    if alert.flapping and previous is not None:
        target = call.locked_incident(session, previous.incident_id, batch, open_only=True)
    if target is None:
        if alert.service_id or alert.ci_id or alert.service_name or alert.ci_name:
            _flush_new(session, batch)  # correlation leaves the alert itself out by its id
        target = alert_incidents.correlated(session, integration, alert, now)
    if target is not None:
        _flush_new(session, batch)
        alert.incident_id = target.id
        history.record(
            session,
            target,
            actor,
            "alert_attached",
            field=f"alert.{alert.id}",
            new=alert_incidents.alert_view(alert),
            reason="flapping" if alert.flapping else "same service/CI within the window",
            rule_id="ALR-F" if alert.flapping else "ALR-C",
        )
        batch.numbers[target.id] = target.number
        return Ingested(Outcome.correlated, key, alert.id, target.number)
    # put off (`_settle_before`); its result gets the incident's number then
    batch.opening.append(call.Opening(len(batch.results), alert, service, ci))
    batch.opening_keys.add(key)
    return Ingested(Outcome.created, key, alert.id)


def _resolve(
    session: Session,
    settings: Settings,
    integration: Integration,
    alert: Alert,
    now: datetime,
    batch: call.Batch,
) -> Ingested:
    key = alert.dedup_key
    alert.status = "resolved"
    alert.open_key = None
    alert.resolved_at = now
    changes = [*_recent(alert.state_changes, now, integration), now.isoformat()]
    alert.state_changes = changes
    alert.flapping = alert.flapping or len(changes) > integration.flap_changes
    batch.alerts[key] = None
    batch.latest[key] = alert
    incident = call.locked_incident(session, alert.incident_id, batch)
    if incident is None:
        return Ingested(Outcome.resolved, key, alert.id)
    actor = alert_incidents.integration_actor(integration)
    history.record(
        session,
        incident,
        actor,
        "alert_resolved",
        field=f"alert.{alert.id}",
        new={"dedup_key": key, "flapping": alert.flapping},
        rule_id="ALR-R",
    )
    if integration.auto_resolve and not alert.flapping:
        batch.resolving.append(incident)  # checked later, with the call's others
    return Ingested(Outcome.resolved, key, alert.id, incident.number)


def _recent(changes: list[Any], now: datetime, integration: Integration) -> list[str]:
    since = now - timedelta(seconds=integration.flap_window_seconds)
    return [c for c in changes if isinstance(c, str) and datetime.fromisoformat(c) >= since]


def _catalog(
    session: Session, integration: Integration, signal: Signal, batch: call.Batch
) -> tuple[Service | None, ConfigurationItem | None]:
    ci = None
    if signal.ci:
        if signal.ci not in batch.cis:
            batch.cis[signal.ci] = session.scalar(
                select(ConfigurationItem).where(ConfigurationItem.name == signal.ci)
            )
        ci = batch.cis[signal.ci]
    service = None
    if signal.service:
        if signal.service not in batch.services:
            batch.services[signal.service] = session.scalar(
                select(Service).where(Service.name == signal.service)
            )
        service = batch.services[signal.service]
    if service is None and ci is not None and ci.service_id is not None:
        service = session.get(Service, ci.service_id)
    if service is None and not signal.service and integration.service_id is not None:
        service = session.get(Service, integration.service_id)
    return service, ci


def release(
    session: Session,
    settings: Settings,
    integration: Integration,
    alert: Alert,
    window: MaintenanceWindow,
    now: datetime,
    *,
    joined: Incident | None = None,
) -> Ingested:
    """A suppressed alert that still fires when its maintenance window ends (ALR-MW): another
    window in force suppresses it again; otherwise it joins `joined` (an incident an alert of
    the same window opened a moment ago) or a correlated open incident, or opens one."""
    key = alert.dedup_key
    other = alert_incidents.maintenance_window(session, integration, alert, now)
    if other is not None:
        alert.suppressed_by_id = other.id
        return Ingested(Outcome.suppressed, key, alert.id)
    target = joined or alert_incidents.correlated(session, integration, alert, now)
    outcome = Outcome.correlated
    if target is None:
        service = session.get(Service, alert.service_id) if alert.service_id else None
        ci = session.get(ConfigurationItem, alert.ci_id) if alert.ci_id else None
        target = alert_incidents.open_for_alert(session, settings, integration, alert, service, ci)
        outcome = Outcome.created
    if target is None:
        return Ingested(outcome, key, alert.id)
    alert.incident_id = target.id
    history.record(
        session,
        target,
        alert_incidents.integration_actor(integration),
        "alert_released",
        field=f"alert.{alert.id}",
        new=alert_incidents.alert_view(alert),
        reason=f"maintenance window {window.name!r} ended while the alert still fired",
        rule_id="ALR-MW",
    )
    return Ingested(outcome, key, alert.id, target.number)
