"""What one call of `intake.service.ingest_many` reads once, counts and puts off.

A call reads the open alerts of all its keys in one query: ORM objects for keys that
acknowledge or resolve, light `OpenRow`s for keys that only trigger (a storm of duplicates
then costs a dict update per event and a row per key), the latest alert of keys that open
a new one as a light `LatestRow`, and the incidents (locked) of alerts that may resolve. It
counts occurrences in memory and writes them at its end with one UPDATE per count. The
`Batch` also holds the incident work `service` puts off (openings, auto-resolve checks) and
the call's results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from dutydesk.incidents.lifecycle import OPEN
from dutydesk.intake.signals import EventAction, Outcome, Signal
from dutydesk.kernel.persistence import transaction_scoped
from dutydesk.models import Alert, ConfigurationItem, Incident, Integration, Service

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
# Core: the ORM's per-object UPDATE cost 10x more.
_BUMP = (  # the alerts that gained the same number of occurrences, one statement per 500
    update(_ALERT)
    .where(_ALERT.c.id.in_(bindparam("alerts", expanding=True)))
    .values(occurrences=_ALERT.c.occurrences + bindparam("n"), last_seen_at=bindparam("seen"))
)
CHUNK = 500  # keys per IN list


@dataclass(frozen=True)
class Ingested:
    outcome: Outcome
    dedup_key: str
    alert_id: int | None = None
    incident_number: str | None = None


@dataclass
class OpenRow:
    """An open alert known by id only: its key only triggered (duplicates) so far."""

    id: int
    open_key: str
    incident_id: int | None


@dataclass
class LatestRow:
    """The latest alert of a key that opens a new one, known by what the new one needs."""

    id: int
    state_changes: list[Any]
    incident_id: int | None


@dataclass
class Opening:
    """An incident to open for a new alert, put off until something needs it."""

    index: int  # of the alert's result in the call's results
    alert: Alert
    service: Service | None
    ci: ConfigurationItem | None


@dataclass
class Batch:
    """What one call of ingest_many reads once: open alerts by key, the latest alert of keys
    that open a new one, incidents of alerts that resolve, catalog names, numbers; the
    occurrences counted, by alert id, written at the end; and the incident work put off so
    that it is done for many alerts at once (see `_settle_before`)."""

    alerts: dict[str, Alert | OpenRow | None] = field(default_factory=dict)
    latest: dict[str, Alert | LatestRow | None] = field(default_factory=dict)
    incidents: dict[int, Incident] = field(default_factory=dict)
    services: dict[str, Service | None] = field(default_factory=dict)
    cis: dict[str, ConfigurationItem | None] = field(default_factory=dict)
    numbers: dict[int, str] = field(default_factory=dict)
    seen: dict[int, int] = field(default_factory=dict)  # alert id → occurrences to add
    results: list[Ingested] = field(default_factory=list)
    opening: list[Opening] = field(default_factory=list)
    opening_keys: set[str] = field(default_factory=set)
    resolving: list[Incident] = field(default_factory=list)  # to resolve if quiet (ALR-AR)
    new: list[Alert] = field(default_factory=list)  # alerts added, not flushed yet
    careful: bool = False  # flush each new alert on its own (a call run again after a race)


def read_open_alerts(
    session: Session,
    integration: Integration,
    signals: list[Signal],
    batch: Batch,
    known: dict[tuple[int, str], Alert | OpenRow],
) -> None:
    """The open alerts of the call's keys, a few queries for all: ORM objects for keys that
    acknowledge or resolve, light `OpenRow` rows for keys that only trigger; then the latest
    alert of keys with no open alert and the incidents (locked) of alerts that may resolve."""
    changing = {s.dedup_key for s in signals if s.action != EventAction.trigger}
    full: list[str] = []
    light: list[str] = []
    for key in sorted({s.dedup_key for s in signals}):
        seen = known.get((integration.id, key))
        # still open (resolving clears it); a light row of a key that changes is read again
        if seen and seen.open_key == key and not (isinstance(seen, OpenRow) and key in changing):
            batch.alerts[key] = current(session, seen)
            continue
        (full if key in changing else light).append(key)
    where = {"integration": integration.id}
    for chunk in chunks(full):
        batch.alerts.update(dict.fromkeys(chunk))
        for alert, number in session.execute(_OPEN_ALERTS, {**where, "keys": chunk}).all():
            batch.alerts[alert.dedup_key] = alert
            if alert.incident_id is not None and number is not None:
                batch.numbers[alert.incident_id] = number
    for chunk in chunks(light):
        batch.alerts.update(dict.fromkeys(chunk))
        for alert_id, key, incident_id, number in session.execute(
            _OPEN_IDS, {**where, "keys": chunk}
        ).all():
            batch.alerts[key] = current(session, OpenRow(alert_id, key, incident_id))
            if incident_id is not None and number is not None:
                batch.numbers[incident_id] = number
    opening = sorted(
        {s.dedup_key for s in signals if s.action == EventAction.trigger}
        - {k for k, a in batch.alerts.items() if a is not None}
    )
    for chunk in chunks(opening):
        batch.latest.update(dict.fromkeys(chunk))
        for alert_id, key, changes, incident_id in session.execute(
            _LATEST, {**where, "keys": chunk}
        ).all():
            loaded = session.identity_map.get((Alert, (alert_id,), None))  # authoritative
            batch.latest[key] = (
                loaded
                if isinstance(loaded, Alert)
                else LatestRow(alert_id, changes or [], incident_id)
            )
    ids = sorted(
        {
            a.incident_id
            for k, a in batch.alerts.items()
            if isinstance(a, Alert) and k in changing and a.incident_id is not None
        }
    )
    for chunk in chunks(ids):
        for incident in session.scalars(
            select(Incident).where(Incident.id.in_(chunk)).with_for_update()
        ).all():
            batch.incidents[incident.id] = incident


def chunks(items: list[Any]) -> list[list[Any]]:
    return [items[start : start + CHUNK] for start in range(0, len(items), CHUNK)]


def current(session: Session, alert: Alert | OpenRow) -> Alert | OpenRow:
    """The session's ORM object for a light row when it holds one (it is authoritative)."""
    if isinstance(alert, Alert):
        return alert
    loaded = session.identity_map.get((Alert, (alert.id,), None))
    return loaded if isinstance(loaded, Alert) else alert


def full_alert(session: Session, alert: Alert | OpenRow, batch: Batch) -> Alert:
    if isinstance(alert, Alert):
        return alert
    loaded = session.get(Alert, alert.id)
    if loaded is None:  # pragma: no cover - an open alert is never deleted
        raise LookupError(f"alert {alert.id} vanished")
    batch.alerts[alert.open_key] = loaded
    return loaded


def count(batch: Batch, alert_id: int) -> None:
    batch.seen[alert_id] = batch.seen.get(alert_id, 0) + 1


def write_seen(session: Session, batch: Batch, now: datetime) -> None:
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
        for chunk in chunks(ids):
            connection.execute(_BUMP, {"alerts": chunk, "n": n, "seen": now})
    for alert_id in batch.seen:
        loaded = session.identity_map.get((Alert, (alert_id,), None))
        if loaded is not None:
            session.expire(loaded, ["occurrences", "last_seen_at"])
    batch.seen.clear()


def open_alert(session: Session, integration: Integration, key: str) -> Alert | None:
    return session.scalar(
        select(Alert).where(Alert.integration_id == integration.id, Alert.open_key == key)
    )


def locked_incident(
    session: Session,
    incident_id: int | None,
    batch: Batch | None = None,
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


def number_of(session: Session, incident_id: int | None, batch: Batch) -> str | None:
    if incident_id is None:
        return None
    if incident_id not in batch.numbers:
        number = session.scalar(select(Incident.number).where(Incident.id == incident_id))
        batch.numbers[incident_id] = number or ""
    return batch.numbers[incident_id] or None
