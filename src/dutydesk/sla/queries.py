"""SLA reads: an incident's clocks as the API shows them, calendars and policies."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.kernel import clock
from dutydesk.kernel.errors import NotFound
from dutydesk.models import Incident, OlaPolicy, SlaCalendar, SlaClock, SlaPolicy
from dutydesk.sla import policy as rules
from dutydesk.sla.service import as_clock, calendar_of, clocks_of

T = TypeVar("T")


def clock_views(
    session: Session, incident: Incident, *, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Every clock of the incident: target, due, elapsed, remaining and state, right now."""
    now = now or clock.now()
    return [describe(session, row, now) for row in clocks_of(session, incident)]


def describe(session: Session, row: SlaClock, now: datetime) -> dict[str, Any]:
    view = rules.view(calendar_of(session, row.calendar_id), as_clock(row), now)
    return {
        "kind": row.kind,
        "group_id": row.group_id,
        "policy": row.policy_name,
        "calendar_id": row.calendar_id,
        "state": view.state.value,
        "target_seconds": view.target_seconds,
        "elapsed_seconds": view.elapsed_seconds,
        "remaining_seconds": view.remaining_seconds,
        "percent": view.percent,
        "due_at": view.due_at or (row.due_at if row.stopped_at is None else None),
        "started_at": row.started_at,
        "stopped_at": row.stopped_at,
        "breached_at": row.breached_at,
        "warned_percent": row.warned_percent,
    }


def list_calendars(session: Session) -> list[SlaCalendar]:
    return list(session.scalars(select(SlaCalendar).order_by(SlaCalendar.name)))


def _get(session: Session, model: type[T], ident: int, what: str) -> T:
    row = session.get(model, ident)
    if row is None:
        raise NotFound(f"{what} {ident} not found")
    return row


def get_calendar(session: Session, calendar_id: int) -> SlaCalendar:
    return _get(session, SlaCalendar, calendar_id, "calendar")


def calendar_config(row: SlaCalendar) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(row.config)
    return config


def list_policies(session: Session) -> list[SlaPolicy]:
    return list(session.scalars(select(SlaPolicy).order_by(SlaPolicy.id)))


def get_policy(session: Session, policy_id: int) -> SlaPolicy:
    return _get(session, SlaPolicy, policy_id, "SLA policy")


def list_olas(session: Session) -> list[OlaPolicy]:
    return list(session.scalars(select(OlaPolicy).order_by(OlaPolicy.id)))


def get_ola(session: Session, ola_id: int) -> OlaPolicy:
    return _get(session, OlaPolicy, ola_id, "OLA")
