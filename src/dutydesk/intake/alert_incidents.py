"""Where an alert's incident comes from and where it goes: an incident opened for an alert
(ALR-1), an open incident an alert correlates onto (the integration's window), the
maintenance window that holds an alert back, and the incident resolved once all its alerts
are (ALR-AR). `intake.service` decides when; this module does it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, bindparam, case, func, or_, select
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, Role
from dutydesk.config import Settings
from dutydesk.incidents import actions, history
from dutydesk.incidents import service as incidents
from dutydesk.incidents.lifecycle import OPEN
from dutydesk.incidents.schemas import ActionRequest, Channel, IncidentCreate
from dutydesk.intake.signals import clip
from dutydesk.kernel.errors import DomainError
from dutydesk.models import (
    Alert,
    ConfigurationItem,
    Incident,
    Integration,
    MaintenanceWindow,
    Service,
)
from dutydesk.sla import service as sla

log = logging.getLogger("dutydesk.intake")
OPEN_STATES = tuple(sorted(OPEN))

DEFAULT_LEVELS = {"critical": (1, 1), "error": (2, 2), "warning": (3, 2), "info": (3, 3)}


def integration_actor(integration: Integration) -> Actor:
    return Actor(
        user_id=integration.user_id,
        name=f"integration {integration.name}",
        role=Role.admin,
        actor_type="integration",
        channel="monitoring",
    )


_QUIET = (  # per incident: its alerts still open or flapping
    select(
        Alert.incident_id,
        func.sum(case((or_(Alert.open_key.is_not(None), Alert.flapping.is_(True)), 1), else_=0)),
        func.count(),
    )
    .where(Alert.incident_id.in_(bindparam("incidents", expanding=True)))
    .group_by(Alert.incident_id)
)
CHUNK = 500  # incidents per IN list


def resolve_if_quiet(
    session: Session, settings: Settings, integration: Integration, incident: Incident
) -> bool:
    """Resolve an open incident once none of its alerts is open or flapping (ALR-AR)."""
    return bool(resolve_quiet(session, settings, integration, [incident]))


def resolve_quiet(
    session: Session, settings: Settings, integration: Integration, candidates: list[Incident]
) -> list[Incident]:
    """`resolve_if_quiet` for many incidents: one query for their alerts, their clocks read
    together, then each quiet one resolved in the order given. Returns those resolved."""
    still_open = [i for i in dict.fromkeys(candidates) if i.state in OPEN]
    if not still_open:
        return []
    session.flush()
    counts: dict[int, tuple[int, int]] = {}
    ids = [i.id for i in still_open]
    for start in range(0, len(ids), CHUNK):
        rows = session.execute(_QUIET, {"incidents": ids[start : start + CHUNK]}).all()
        counts.update((incident_id, (still, total)) for incident_id, still, total in rows)
    quiet = [i for i in still_open if counts.get(i.id, (0, 0))[0] == 0]
    actor = integration_actor(integration)
    with sla.clocks_read_ahead(session, quiet):
        for incident in quiet:
            total = counts.get(incident.id, (0, 0))[1]
            notes = f"All {total} alert(s) of this incident resolved at the source."
            actions.perform_action(
                session,
                actor,
                incident,
                "resolve",
                ActionRequest(
                    resolution_code="auto_resolved",
                    resolution_notes=notes,
                    is_workaround=False,
                    reason="ALR-AR: every alert resolved",
                ),
                settings=settings,
            )
    return quiet


def open_for_alert(
    session: Session,
    settings: Settings,
    integration: Integration,
    alert: Alert,
    service: Service | None,
    ci: ConfigurationItem | None,
) -> Incident | None:
    """Open the alert's incident (ALR-1); None when it cannot be logged (the alert stays)."""
    actor = integration_actor(integration)
    try:
        with session.begin_nested():
            incident = incidents.open_incident(
                session, actor, _incident_data(integration, alert, service, ci), settings=settings
            )
            _record_opened(session, actor, alert, incident)
            session.flush()
            alert.incident_id = incident.id
    except DomainError as exc:  # e.g. a logging checklist the alert cannot satisfy
        log.warning(
            "intake: alert %s of %s kept without an incident: %s",
            alert.dedup_key,
            integration.name,
            exc.detail,
        )
        return None
    return incident


Opening = tuple[Alert, Service | None, ConfigurationItem | None]


def open_for_alerts(
    session: Session, settings: Settings, integration: Integration, openings: list[Opening]
) -> list[Incident | None]:
    """`open_for_alert` for many alerts, in order: their numbers reserved with one bump of
    the counter, the incidents written by one flush. If one of them cannot be logged, the
    whole group is rolled back and each alert is opened on its own instead, so the outcome
    is the same as opening them one by one."""
    if len(openings) < 2:
        return [open_for_alert(session, settings, integration, *o) for o in openings]
    actor = integration_actor(integration)
    requests = [(actor, _incident_data(integration, *opening)) for opening in openings]
    try:
        with session.begin_nested():
            opened = incidents.open_incidents(
                session,
                requests,
                settings=settings,
                each=lambda i, incident: _record_opened(session, actor, openings[i][0], incident),
            )
            for (alert, _service, _ci), incident in zip(openings, opened, strict=True):
                alert.incident_id = incident.id
    except DomainError:
        return [open_for_alert(session, settings, integration, *o) for o in openings]
    return list(opened)


def _incident_data(
    integration: Integration,
    alert: Alert,
    service: Service | None,
    ci: ConfigurationItem | None,
) -> IncidentCreate:
    impact, urgency = levels(integration, alert.severity)
    ci_id = ci.id if ci is not None else None
    if ci is not None and service is not None and ci.service_id not in (None, service.id):
        ci_id = None  # the CI belongs elsewhere: keep it on the alert, not on the incident
    return IncidentCreate(
        short_description=clip(alert.summary.strip() or alert.dedup_key, 200),
        description=description(alert),
        channel=Channel.monitoring,
        caller_id=integration.user_id,
        customer_id=service.customer_id if service is not None else None,
        service_id=service.id if service is not None else None,
        ci_id=ci_id,
        impact=impact,
        urgency=urgency,
        # A flapping key opens its incident without notifying anybody.
        assignment_group_id=None if alert.flapping else integration.assignment_group_id,
    )


def _record_opened(session: Session, actor: Actor, alert: Alert, incident: Incident) -> None:
    """ALR-1, recorded before the incident's first flush: its INSERT carries the history
    head, instead of an UPDATE right after it."""
    history.record(
        session,
        incident,
        actor,
        "alert_attached",
        field=f"alert.{alert.id}",
        new=alert_view(alert),
        reason="opened by the alert",
        rule_id="ALR-1",
    )


def levels(integration: Integration, severity: str) -> tuple[int, int]:
    given = (integration.severity_map or {}).get(severity)
    if isinstance(given, list) and len(given) == 2:
        return int(given[0]), int(given[1])
    return DEFAULT_LEVELS.get(severity, (3, 3))


def description(alert: Alert) -> str:
    lines = [f"Alert {alert.dedup_key} ({alert.severity}) from {alert.source or 'monitoring'}."]
    lines += [f"{k}: {v}" for k, v in sorted(alert.labels.items())[:40]]
    lines += [f"Link: {link.get('href')}" for link in alert.links[:10]]
    return "\n".join(lines)[:32_000]


def alert_view(alert: Alert) -> dict[str, Any]:
    return {
        "alert_id": alert.id,
        "dedup_key": alert.dedup_key,
        "severity": alert.severity,
        "summary": alert.summary[:200],
        "service": alert.service_name,
        "ci": alert.ci_name,
    }


def maintenance_window(
    session: Session, integration: Integration, alert: Alert, now: datetime
) -> MaintenanceWindow | None:
    scope: list[ColumnElement[bool]] = []
    if alert.service_id is not None:
        scope.append(MaintenanceWindow.service_id == alert.service_id)
    if alert.ci_id is not None:
        scope.append(MaintenanceWindow.ci_id == alert.ci_id)
    if not scope:
        return None
    return session.scalar(
        select(MaintenanceWindow)
        .where(
            MaintenanceWindow.ends_at > now,
            MaintenanceWindow.starts_at <= now,
            or_(*scope),
            or_(
                MaintenanceWindow.integration_id.is_(None),
                MaintenanceWindow.integration_id == integration.id,
            ),
        )
        .order_by(MaintenanceWindow.id)
        .limit(1)
    )


def correlated(
    session: Session, integration: Integration, alert: Alert, now: datetime
) -> Incident | None:
    """The open incident born of alerts on the same CI/service within the window."""
    if integration.correlation_seconds <= 0:
        return None
    same: list[ColumnElement[bool]] = []
    if alert.ci_id is not None:
        same.append(Alert.ci_id == alert.ci_id)
    elif alert.ci_name:
        same.append(Alert.ci_name == alert.ci_name)
    if alert.service_id is not None:
        same.append(Alert.service_id == alert.service_id)
    elif alert.service_name:
        same.append(Alert.service_name == alert.service_name)
    if not same:
        return None
    since = now - timedelta(seconds=integration.correlation_seconds)
    incident_id = session.scalar(
        select(Alert.incident_id)
        .join(Incident, Incident.id == Alert.incident_id)
        .where(
            or_(*same),
            Alert.first_seen_at >= since,
            Alert.id != alert.id,
            Incident.state.in_(OPEN_STATES),
        )
        .order_by(Alert.id.desc())
        .limit(1)
    )
    if incident_id is None:
        return None
    return session.get(Incident, incident_id, with_for_update=True)
