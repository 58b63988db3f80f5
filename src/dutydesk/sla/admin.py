"""SLA administration: calendars, policies and OLAs (admins write; running clocks keep the
targets they copied). Called by the SLA API, the CLI and the admin screens."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, require_admin
from dutydesk.kernel import clock
from dutydesk.kernel.errors import Conflict, InvalidInput
from dutydesk.kernel.persistence import flush_unique
from dutydesk.models import (
    Customer,
    OlaPolicy,
    Service,
    SlaCalendar,
    SlaClock,
    SlaPolicy,
    SupportGroup,
)
from dutydesk.sla.calendar import CalendarError
from dutydesk.sla.calendar_config import calendar_from_config
from dutydesk.sla.service import DEFAULT_CALENDAR_ID, forget_cached


def _config_text(config: dict[str, Any]) -> str:
    try:
        calendar_from_config(config)
    except CalendarError as exc:
        raise InvalidInput(
            "the calendar is not valid", errors=[{"field": "config", "msg": str(exc)}]
        ) from exc
    return json.dumps(config, sort_keys=True)


def create_calendar(
    session: Session, actor: Actor, *, name: str, config: dict[str, Any]
) -> SlaCalendar:
    require_admin(actor)
    now = clock.now()
    row = SlaCalendar(name=name, config=_config_text(config), created_at=now, updated_at=now)
    session.add(row)
    flush_unique(session, f"a calendar named {row.name!r}")
    forget_cached(session)
    return row


def update_calendar(
    session: Session,
    actor: Actor,
    row: SlaCalendar,
    *,
    name: str | None = None,
    config: dict[str, Any] | None = None,
) -> SlaCalendar:
    """A changed calendar applies to clocks from their next change or check on."""
    require_admin(actor)
    if name is not None:
        row.name = name
    if config is not None:
        row.config = _config_text(config)
    row.updated_at = clock.now()
    flush_unique(session, f"a calendar named {row.name!r}")
    forget_cached(session)
    return row


POLICY_FIELDS = (
    "name",
    "customer_id",
    "service_id",
    "priority",
    "calendar_id",
    "response_seconds",
    "resolution_seconds",
    "warn_percents",
    "pause_states",
    "active",
)
PAUSABLE = frozenset({"pending_user", "pending_vendor", "pending_change"})


def _missing_references(session: Session, values: dict[str, Any]) -> list[dict[str, str]]:
    models: dict[str, type[Any]] = {
        "calendar_id": SlaCalendar,
        "customer_id": Customer,
        "service_id": Service,
        "group_id": SupportGroup,
    }
    return [
        {"field": name, "msg": "not found"}
        for name, model in models.items()
        if values.get(name) is not None and session.get(model, values[name]) is None
    ]


def _checked(session: Session, values: dict[str, Any], what: str) -> dict[str, Any]:
    """Validate policy or OLA values (references, targets, thresholds, pause states) and
    encode the lists as stored; raise one 422 listing every problem."""
    values = dict(values)
    errors = _missing_references(session, values)
    for name in ("active", "raise_priority_on_breach"):
        if name in values and values[name] is None:
            errors.append({"field": name, "msg": "must not be null"})
    for name in ("response_seconds", "resolution_seconds"):
        if values.get(name) is not None and values[name] <= 0:
            errors.append({"field": name, "msg": "must be a positive number of seconds"})
    if "warn_percents" in values:
        warns = values["warn_percents"]
        if any(not 0 < p < 100 for p in warns):
            errors.append({"field": "warn_percents", "msg": "each must be between 1 and 99"})
        values["warn_percents"] = json.dumps(sorted(set(warns)))
    if "pause_states" in values:
        wrong = [s for s in values["pause_states"] if s not in PAUSABLE]
        if wrong:
            errors.append(
                {
                    "field": "pause_states",
                    "msg": f"{wrong} are not pending states ({sorted(PAUSABLE)})",
                }
            )
        values["pause_states"] = json.dumps(sorted(set(values["pause_states"])))
    if errors:
        raise InvalidInput(f"{what} is not valid", errors=errors)
    return values


def create_policy(session: Session, actor: Actor, values: dict[str, Any]) -> SlaPolicy:
    require_admin(actor)
    if not values.get("response_seconds") and not values.get("resolution_seconds"):
        raise InvalidInput(
            "an SLA policy needs a response or a resolution target",
            errors=[{"field": "resolution_seconds", "msg": "required"}],
        )
    if values.get("calendar_id") is None:
        values = {**values, "calendar_id": DEFAULT_CALENDAR_ID}
    values = _checked(session, values, "the SLA policy")
    values.setdefault("warn_percents", "[50, 75]")
    values.setdefault("pause_states", '["pending_user", "pending_vendor"]')
    now = clock.now()
    row = SlaPolicy(**values, created_at=now, updated_at=now)
    session.add(row)
    flush_unique(session, f"a policy named {row.name!r}")
    forget_cached(session)
    return row


def update_policy(
    session: Session, actor: Actor, row: SlaPolicy, values: dict[str, Any]
) -> SlaPolicy:
    """Changes apply to each incident's clocks at its next change (re-target, CLK-T)."""
    require_admin(actor)
    values = _checked(session, values, "the SLA policy")
    for name, value in values.items():
        setattr(row, name, value)
    if not row.active or any(k in values for k in ("customer_id", "service_id", "priority")):
        _keep_a_default(session, row)
    row.updated_at = clock.now()
    flush_unique(session, f"a policy named {row.name!r}")
    forget_cached(session)
    return row


def _keep_a_default(session: Session, changed: SlaPolicy) -> None:
    session.flush()
    defaults = session.scalars(
        select(SlaPolicy.id).where(
            SlaPolicy.active.is_(True),
            SlaPolicy.customer_id.is_(None),
            SlaPolicy.service_id.is_(None),
            SlaPolicy.priority.is_(None),
        )
    ).all()
    if not defaults:
        raise Conflict(
            f"{changed.name!r} is the last catch-all policy (no customer, service or priority); "
            "one must always exist"
        )


def create_ola(session: Session, actor: Actor, values: dict[str, Any]) -> OlaPolicy:
    require_admin(actor)
    values = _checked(session, {"warn_percents": [50, 75], **values}, "the OLA")
    now = clock.now()
    row = OlaPolicy(**values, created_at=now, updated_at=now)
    session.add(row)
    session.flush()
    forget_cached(session)
    return row


def update_ola(session: Session, actor: Actor, row: OlaPolicy, values: dict[str, Any]) -> OlaPolicy:
    require_admin(actor)
    for name, value in _checked(session, values, "the OLA").items():
        setattr(row, name, value)
    row.updated_at = clock.now()
    session.flush()
    forget_cached(session)
    return row


def delete_policy(session: Session, actor: Actor, row: SlaPolicy) -> None:
    """Clocks keep the name, target and calendar they copied; each incident re-matches a
    policy at its next change (CLK-T). The last catch-all policy cannot go."""
    require_admin(actor)
    session.delete(row)
    _keep_a_default(session, row)
    forget_cached(session)


def delete_ola(session: Session, actor: Actor, row: OlaPolicy) -> None:
    """Running OLA clocks keep the target they copied."""
    require_admin(actor)
    session.delete(row)
    session.flush()
    forget_cached(session)


def delete_calendar(session: Session, actor: Actor, row: SlaCalendar) -> None:
    """Only a calendar nothing refers to: policies, OLAs and clocks (stopped ones too) keep
    its id, and their business time is measured on it."""
    require_admin(actor)
    referrers: list[tuple[str, Any]] = [
        ("SLA policies", SlaPolicy),
        ("OLAs", OlaPolicy),
        ("clocks", SlaClock),
    ]
    users = [
        what
        for what, model in referrers
        if session.scalar(select(model.id).where(model.calendar_id == row.id).limit(1))
    ]
    if users:
        raise Conflict(f"calendar {row.name!r} is still used by {' and '.join(users)}")
    try:
        with session.begin_nested():
            session.delete(row)
            session.flush()
    except IntegrityError as exc:  # a table added later that refers to calendars
        raise Conflict(f"calendar {row.name!r} is still referred to") from exc
    forget_cached(session)
