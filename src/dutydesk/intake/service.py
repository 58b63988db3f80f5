"""ingest(): the one writer every monitoring source goes through (dedup, correlation,
maintenance, flapping, auto-resolve). It never commits; the receiver's unit of work does.

Rule ids in the incident history: ALR-1 an alert opened the incident, ALR-C an alert was
correlated onto it, ALR-A acknowledged, ALR-R resolved, ALR-AR every alert resolved so the
incident resolved, ALR-F flapping. Deduplicated occurrences are counted on the alert only.

A call counts the occurrences of its alerts in memory and adds them with one Core
executemany at its end (`occurrences = occurrences + n`); a key whose events in the call
are all triggers of an open alert is read as a light `_Open` row (no ORM object), so the
common case, a storm of duplicates, costs a dict update per event and a row per key.

The incident side (opening one for an alert, correlation, maintenance windows, the
auto-resolve) is in `intake.alert_incidents`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dutydesk.config import Settings
from dutydesk.incidents import history
from dutydesk.incidents.lifecycle import OPEN
from dutydesk.intake import alert_incidents
from dutydesk.intake.signals import EventAction, Outcome, Signal, clip, raw_text
from dutydesk.kernel import clock
from dutydesk.kernel.group_commit import PINNED
from dutydesk.kernel.persistence import transaction_scoped
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
# Per transaction (a group commit batch): the open alerts met so far by (integration, key),
# and incident numbers by id, so a batch's duplicates read each key once.
OPEN_ALERTS = transaction_scoped("dutydesk.intake.open_alerts")
NUMBERS = transaction_scoped("dutydesk.intake.numbers")
_OPEN_ALERTS = (  # built once: building the statement cost as much as running it
    select(Alert, Incident.number)
    .outerjoin(Incident, Incident.id == Alert.incident_id)
    .where(
        Alert.integration_id == bindparam("integration"),
        Alert.open_key.in_(bindparam("keys", expanding=True)),
    )
)
# Keys that only trigger in a call: the open alert's id and incident, no ORM object.
_OPEN_IDS = (
    select(Alert.id, Alert.dedup_key, Alert.incident_id, Incident.number)
    .outerjoin(Incident, Incident.id == Alert.incident_id)
    .where(
        Alert.integration_id == bindparam("integration"),
        Alert.open_key.in_(bindparam("keys", expanding=True)),
    )
)
# The latest alert of each key (its state changes carry over to the key's next alert), as
# a light row: only what the next alert takes from it.
_LATEST = select(Alert.id, Alert.dedup_key, Alert.state_changes, Alert.incident_id).where(
    Alert.id.in_(
        select(func.max(Alert.id))
        .where(
            Alert.integration_id == bindparam("integration"),
            Alert.dedup_key.in_(bindparam("keys", expanding=True)),
        )
        .group_by(Alert.dedup_key)
    )
)
_ALERT: Table = Alert.__table__  # type: ignore[assignment]
# Core, one executemany per call: the ORM's per-object UPDATE cost 10x more.
_BUMP = (  # the alerts that gained the same number of occurrences, one statement per 500
    update(_ALERT)
    .where(_ALERT.c.id.in_(bindparam("alerts", expanding=True)))
    .values(occurrences=_ALERT.c.occurrences + bindparam("n"), last_seen_at=bindparam("seen"))
)
CHUNK = 500  # keys per IN list
# Default severity → (impact, urgency) on a 3-level matrix; an integration may override.


@dataclass(frozen=True)
class Ingested:
    outcome: Outcome
    dedup_key: str
    alert_id: int | None = None
    incident_number: str | None = None


@dataclass
class _Open:
    """An open alert known by id only: its key only triggered (duplicates) so far."""

    id: int
    open_key: str
    incident_id: int | None


@dataclass
class _Latest:
    """The latest alert of a key that opens a new one, known by what the new one needs."""

    id: int
    state_changes: list[Any]
    incident_id: int | None


@dataclass
class _Opening:
    """An incident to open for a new alert, put off until something needs it."""

    index: int  # of the alert's result in the call's results
    alert: Alert
    service: Service | None
    ci: ConfigurationItem | None


@dataclass
class _Batch:
    """What one call of ingest_many reads once: open alerts by key, the latest alert of keys
    that open a new one, incidents of alerts that resolve, catalog names, numbers; the
    occurrences counted, by alert id, written at the end; and the incident work put off so
    that it is done for many alerts at once (see `_settle_before`)."""

    alerts: dict[str, Alert | _Open | None] = field(default_factory=dict)
    latest: dict[str, Alert | _Latest | None] = field(default_factory=dict)
    incidents: dict[int, Incident] = field(default_factory=dict)
    services: dict[str, Service | None] = field(default_factory=dict)
    cis: dict[str, ConfigurationItem | None] = field(default_factory=dict)
    numbers: dict[int, str] = field(default_factory=dict)
    seen: dict[int, int] = field(default_factory=dict)  # alert id → occurrences to add
    results: list[Ingested] = field(default_factory=list)
    opening: list[_Opening] = field(default_factory=list)
    opening_keys: set[str] = field(default_factory=set)
    resolving: list[Incident] = field(default_factory=list)  # to resolve if quiet (ALR-AR)
    new: list[Alert] = field(default_factory=list)  # alerts added, not flushed yet
    careful: bool = False  # flush each new alert on its own (a call run again after a race)


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
    batch = _Batch(numbers=session.info.setdefault(NUMBERS, {}))
    known: dict[tuple[int, str], Alert | _Open] = session.info.setdefault(OPEN_ALERTS, {})
    _read(session, integration, signals, batch, known)
    changing = {s.dedup_key for s in signals if s.action != EventAction.trigger}
    reopening = any(s.action == EventAction.trigger and s.dedup_key in changing for s in signals)
    if not (batch.latest or reopening):  # no key opens an alert: nothing can race
        return _ingest(session, settings, integration, signals, heard, now, batch, known)
    try:
        with session.begin_nested():
            return _ingest(session, settings, integration, signals, heard, now, batch, known)
    except IntegrityError:
        log.info("intake: %s opened an alert of this call meanwhile: again", integration.name)
    batch = _Batch(numbers=session.info.setdefault(NUMBERS, {}), careful=True)
    known = session.info.setdefault(OPEN_ALERTS, {})
    known.clear()
    _read(session, integration, signals, batch, known)
    return _ingest(session, settings, integration, signals, heard, now, batch, known)


def _ingest(
    session: Session,
    settings: Settings,
    integration: Integration,
    signals: list[Signal],
    heard: bool,
    now: datetime,
    batch: _Batch,
    known: dict[tuple[int, str], Alert | _Open],
) -> list[Ingested]:
    for signal in signals:
        _settle_before(session, settings, integration, signal, batch)
        batch.results.append(_one(session, settings, integration, signal, now, batch))
    heartbeat = any(s.dedup_key == HEARTBEAT_KEY for s in signals)
    if heard and _heard(integration, now) and not heartbeat:
        back = Signal(HEARTBEAT_KEY, EventAction.resolve, source="dutydesk")
        if HEARTBEAT_KEY not in batch.alerts:
            batch.alerts[HEARTBEAT_KEY] = _open_alert(session, integration, HEARTBEAT_KEY)
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
    _write_seen(session, batch, now)
    return batch.results


def _settle_before(
    session: Session, settings: Settings, integration: Integration, signal: Signal, batch: _Batch
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


def _may_correlate(integration: Integration, signal: Signal, opening: list[_Opening]) -> bool:
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
    session: Session, settings: Settings, integration: Integration, batch: _Batch
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


def _flush_new(session: Session, batch: _Batch) -> None:
    """Write the alerts added since the last flush (one INSERT for them all): they get ids."""
    if batch.new:
        session.flush()
        batch.new.clear()


def _resolve_pending(
    session: Session, settings: Settings, integration: Integration, batch: _Batch
) -> None:
    if batch.resolving:
        resolving, batch.resolving = batch.resolving, []
        alert_incidents.resolve_quiet(session, settings, integration, resolving)


def _read(
    session: Session,
    integration: Integration,
    signals: list[Signal],
    batch: _Batch,
    known: dict[tuple[int, str], Alert | _Open],
) -> None:
    """The open alerts of the call's keys, a few queries for all: ORM objects for keys that
    acknowledge or resolve, light `_Open` rows for keys that only trigger; then the latest
    alert of keys with no open alert and the incidents (locked) of alerts that may resolve."""
    changing = {s.dedup_key for s in signals if s.action != EventAction.trigger}
    full: list[str] = []
    light: list[str] = []
    for key in sorted({s.dedup_key for s in signals}):
        seen = known.get((integration.id, key))
        # still open (resolving clears it); a light row of a key that changes is read again
        if seen and seen.open_key == key and not (isinstance(seen, _Open) and key in changing):
            batch.alerts[key] = _current(session, seen)
            continue
        (full if key in changing else light).append(key)
    where = {"integration": integration.id}
    for chunk in _chunks(full):
        batch.alerts.update(dict.fromkeys(chunk))
        for alert, number in session.execute(_OPEN_ALERTS, {**where, "keys": chunk}).all():
            batch.alerts[alert.dedup_key] = alert
            if alert.incident_id is not None and number is not None:
                batch.numbers[alert.incident_id] = number
    for chunk in _chunks(light):
        batch.alerts.update(dict.fromkeys(chunk))
        for alert_id, key, incident_id, number in session.execute(
            _OPEN_IDS, {**where, "keys": chunk}
        ).all():
            batch.alerts[key] = _current(session, _Open(alert_id, key, incident_id))
            if incident_id is not None and number is not None:
                batch.numbers[incident_id] = number
    opening = sorted(
        {s.dedup_key for s in signals if s.action == EventAction.trigger}
        - {k for k, a in batch.alerts.items() if a is not None}
    )
    for chunk in _chunks(opening):
        batch.latest.update(dict.fromkeys(chunk))
        for alert_id, key, changes, incident_id in session.execute(
            _LATEST, {**where, "keys": chunk}
        ).all():
            loaded = session.identity_map.get((Alert, (alert_id,), None))  # authoritative
            batch.latest[key] = (
                loaded
                if isinstance(loaded, Alert)
                else _Latest(alert_id, changes or [], incident_id)
            )
    ids = sorted(
        {
            a.incident_id
            for k, a in batch.alerts.items()
            if isinstance(a, Alert) and k in changing and a.incident_id is not None
        }
    )
    for chunk in _chunks(ids):
        for incident in session.scalars(
            select(Incident).where(Incident.id.in_(chunk)).with_for_update()
        ).all():
            batch.incidents[incident.id] = incident


def _chunks(items: list[Any]) -> list[list[Any]]:
    return [items[start : start + CHUNK] for start in range(0, len(items), CHUNK)]


def _current(session: Session, alert: Alert | _Open) -> Alert | _Open:
    """The session's ORM object for a light row when it holds one (it is authoritative)."""
    if isinstance(alert, Alert):
        return alert
    loaded = session.identity_map.get((Alert, (alert.id,), None))
    return loaded if isinstance(loaded, Alert) else alert


def _full(session: Session, alert: Alert | _Open, batch: _Batch) -> Alert:
    if isinstance(alert, Alert):
        return alert
    loaded = session.get(Alert, alert.id)
    if loaded is None:  # pragma: no cover - an open alert is never deleted
        raise LookupError(f"alert {alert.id} vanished")
    batch.alerts[alert.open_key] = loaded
    return loaded


def _count(batch: _Batch, alert_id: int) -> None:
    batch.seen[alert_id] = batch.seen.get(alert_id, 0) + 1


def _write_seen(session: Session, batch: _Batch, now: datetime) -> None:
    """Add the occurrences counted in this call: one UPDATE per count (a storm's keys mostly
    share one), not one row of parameters per alert; loaded alerts forget the two columns
    (they reload on access) so nothing stale is served or written back."""
    if not batch.seen:
        return
    by_count: dict[int, list[int]] = {}
    for alert_id, n in sorted(batch.seen.items()):
        by_count.setdefault(n, []).append(alert_id)
    connection = session.connection()
    for n, ids in sorted(by_count.items()):
        for chunk in _chunks(ids):
            connection.execute(_BUMP, {"alerts": chunk, "n": n, "seen": now})
    for alert_id in batch.seen:
        loaded = session.identity_map.get((Alert, (alert_id,), None))
        if loaded is not None:
            session.expire(loaded, ["occurrences", "last_seen_at"])
    batch.seen.clear()


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


def _open_alert(session: Session, integration: Integration, key: str) -> Alert | None:
    return session.scalar(
        select(Alert).where(Alert.integration_id == integration.id, Alert.open_key == key)
    )


def _one(
    session: Session,
    settings: Settings,
    integration: Integration,
    signal: Signal,
    now: datetime,
    batch: _Batch,
) -> Ingested:
    key = signal.dedup_key
    met = batch.alerts.get(key)
    if signal.action == EventAction.trigger:
        if met is not None:
            _count(batch, met.id)
            return Ingested(
                Outcome.deduplicated, key, met.id, _number(session, met.incident_id, batch)
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
    alert = _full(session, met, batch)
    _count(batch, alert.id)
    actor = alert_incidents.integration_actor(integration)
    if signal.action == EventAction.acknowledge:
        if alert.status == "triggered":
            alert.status = "acknowledged"
            alert.acknowledged_at = now
            incident = _incident(session, alert.incident_id, batch)
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
            Outcome.acknowledged, key, alert.id, _number(session, alert.incident_id, batch)
        )
    return _resolve(session, settings, integration, alert, now, batch)


def _trigger(
    session: Session,
    settings: Settings,
    integration: Integration,
    signal: Signal,
    now: datetime,
    batch: _Batch,
) -> Ingested:
    key = signal.dedup_key
    service, ci = _catalog(session, integration, signal, batch)
    previous: Alert | _Latest | None
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
            existing = _open_alert(session, integration, key)
            if existing is None:
                raise
            _count(batch, existing.id)
            batch.alerts[key] = existing
            return Ingested(
                Outcome.deduplicated,
                key,
                existing.id,
                _number(session, existing.incident_id, batch),
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
        target = _incident(session, previous.incident_id, batch, open_only=True)
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
    batch.opening.append(_Opening(len(batch.results), alert, service, ci))
    batch.opening_keys.add(key)
    return Ingested(Outcome.created, key, alert.id)


def _resolve(
    session: Session,
    settings: Settings,
    integration: Integration,
    alert: Alert,
    now: datetime,
    batch: _Batch,
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
    incident = _incident(session, alert.incident_id, batch)
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
    session: Session, integration: Integration, signal: Signal, batch: _Batch
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


def _incident(
    session: Session,
    incident_id: int | None,
    batch: _Batch | None = None,
    *,
    open_only: bool = False,
) -> Incident | None:
    """The incident, locked: read (FOR UPDATE) with the call's others when it was known."""
    if incident_id is None:
        return None
    incident = batch.incidents.get(incident_id) if batch is not None else None
    if incident is None:
        incident = session.get(Incident, incident_id, with_for_update=True)
    if incident is None or (open_only and incident.state not in OPEN):
        return None
    return incident


def _number(session: Session, incident_id: int | None, batch: _Batch) -> str | None:
    if incident_id is None:
        return None
    if incident_id not in batch.numbers:
        number = session.scalar(select(Incident.number).where(Incident.id == incident_id))
        batch.numbers[incident_id] = number or ""
    return batch.numbers[incident_id] or None


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
