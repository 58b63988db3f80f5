"""Reads of the monitoring intake: integrations by token or name, alerts, windows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dutydesk.kernel.errors import NotFound
from dutydesk.kernel.pagination import decode_cursor, encode_cursor
from dutydesk.kernel.persistence import transaction_scoped
from dutydesk.models import Alert, Incident, Integration, MaintenanceWindow
from dutydesk.people.secrets import hash_token

# Per transaction (a group commit batch): token hash -> integration id, so the events of a
# batch authenticate with one query. The row itself comes from the identity map and its
# current token is compared, so a rotation earlier in the transaction is seen.
TOKENS = transaction_scoped("dutydesk.intake.tokens")


def find_integration_by_token(session: Session, token: str) -> Integration | None:
    """The integration whose live token this is (revoked tokens match nothing)."""
    digest = hash_token(token)
    known: dict[str, int] = session.info.setdefault(TOKENS, {})
    if digest in known:
        found = session.get(Integration, known[digest])
        if found is not None and found.token_hash == digest:
            return found
    found = session.scalar(select(Integration).where(Integration.token_hash == digest))
    if found is not None:
        known[digest] = found.id
    return found


def find_integration_by_name(session: Session, name: str) -> Integration | None:
    return session.scalar(select(Integration).where(Integration.name == name))


def get_integration(session: Session, integration_id: int) -> Integration:
    found = session.get(Integration, integration_id)
    if found is None:
        raise NotFound(f"there is no integration {integration_id}")
    return found


def list_integrations(session: Session) -> Sequence[Integration]:
    return session.scalars(select(Integration).order_by(Integration.name)).all()


def get_window(session: Session, window_id: int) -> MaintenanceWindow:
    found = session.get(MaintenanceWindow, window_id)
    if found is None:
        raise NotFound(f"there is no maintenance window {window_id}")
    return found


def list_windows(session: Session) -> Sequence[MaintenanceWindow]:
    return session.scalars(
        select(MaintenanceWindow).order_by(MaintenanceWindow.starts_at, MaintenanceWindow.id)
    ).all()


@dataclass(frozen=True)
class AlertFilter:
    integration: str | None = None
    statuses: tuple[str, ...] = ()
    service: str | None = None
    ci: str | None = None


def list_alerts(
    session: Session, flt: AlertFilter, *, cursor: str | None, limit: int, count: bool
) -> tuple[list[dict[str, Any]], str | None, int | None]:
    """Alerts newest first (keyset on id), as dicts for AlertRead."""
    query = (
        select(Alert, Integration.name, Incident.number)
        .join(Integration, Integration.id == Alert.integration_id)
        .outerjoin(Incident, Incident.id == Alert.incident_id)
    )
    if flt.integration:
        query = query.where(Integration.name == flt.integration)
    if flt.statuses:
        query = query.where(Alert.status.in_(flt.statuses))
    if flt.service:
        query = query.where(Alert.service_name == flt.service)
    if flt.ci:
        query = query.where(Alert.ci_name == flt.ci)
    total = None
    if count:
        total = session.scalar(select(func.count()).select_from(query.subquery()))
    if cursor:
        (last_id,) = decode_cursor(cursor, [(Alert.id, True)])
        query = query.where(Alert.id < last_id)
    rows = session.execute(query.order_by(Alert.id.desc()).limit(limit + 1)).all()
    items = [_view(alert, name, number) for alert, name, number in rows[:limit]]
    next_cursor = encode_cursor([rows[limit - 1][0].id]) if len(rows) > limit else None
    return items, next_cursor, total


def _view(alert: Alert, integration: str, number: str | None) -> dict[str, Any]:
    return {
        "id": alert.id,
        "integration": integration,
        "dedup_key": alert.dedup_key,
        "status": alert.status,
        "severity": alert.severity,
        "summary": alert.summary,
        "source": alert.source,
        "service": alert.service_name,
        "ci": alert.ci_name,
        "service_id": alert.service_id,
        "ci_id": alert.ci_id,
        "labels": alert.labels,
        "links": alert.links,
        "occurrences": alert.occurrences,
        "first_seen_at": alert.first_seen_at,
        "last_seen_at": alert.last_seen_at,
        "acknowledged_at": alert.acknowledged_at,
        "resolved_at": alert.resolved_at,
        "flapping": alert.flapping,
        "suppressed_by_id": alert.suppressed_by_id,
        "incident": number,
    }
