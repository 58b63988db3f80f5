"""Writes for what admins configure (never commit): escalation paths with their steps, and
hierarchic escalation levels. Bad input is refused whole with one 422 naming every field.

A changed level applies to open incidents at once: their schedule is set to now, and the
worker's escalation job recomputes it (firing what is due) one incident at a time.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from dutydesk.access.policy import STAFF, Actor, require_admin
from dutydesk.escalation import queries, rules, schedule
from dutydesk.incidents.lifecycle import OPEN
from dutydesk.kernel import clock
from dutydesk.kernel.errors import Conflict, InvalidInput
from dutydesk.kernel.persistence import flush_unique
from dutydesk.models import (
    Category,
    EscalationLevel,
    EscalationPath,
    EscalationStep,
    Incident,
    Service,
    SupportGroup,
    User,
)

NOT_NULL_PATH = ("name", "active", "steps")
LEVEL_DEFAULTS: dict[str, Any] = {
    "priority": None,
    "group_id": None,
    "clock": None,
    "percent": None,
    "delay_seconds": None,
    "notify_group_manager": True,
    "notify_incident_managers": False,
    "notify_user_ids": [],
    "active": True,
}
NOT_NULL_LEVEL = (
    "name",
    "trigger",
    "notify_group_manager",
    "notify_incident_managers",
    "notify_user_ids",
    "active",
)


def _not_null(values: dict[str, Any], names: tuple[str, ...]) -> list[dict[str, str]]:
    return [
        {"field": n, "msg": "must not be null"} for n in names if n in values and values[n] is None
    ]


# ----------------------------------------------------------------------------- paths


def _path_problems(session: Session, values: dict[str, Any]) -> list[dict[str, str]]:
    errors = _not_null(values, NOT_NULL_PATH)
    for name, model in (("category_id", Category), ("service_id", Service)):
        if values.get(name) is not None and session.get(model, values[name]) is None:
            errors.append({"field": name, "msg": "not found"})
    if values.get("steps") is not None:
        specs = []
        for step in values["steps"]:
            group = session.get(SupportGroup, step["group_id"])
            specs.append(
                rules.StepSpec(
                    level=step["level"],
                    group_id=step["group_id"],
                    auto=step.get("auto", False),
                    tier=group.tier if group is not None else None,
                    group_active=group.is_active if group is not None else None,
                )
            )
        errors.extend(rules.step_problems(specs))
    return errors


def _write_steps(session: Session, path: EscalationPath, steps: list[dict[str, Any]]) -> None:
    session.execute(delete(EscalationStep).where(EscalationStep.path_id == path.id))
    session.add_all(
        EscalationStep(
            path_id=path.id,
            level=s["level"],
            group_id=s["group_id"],
            auto=s.get("auto", False),
        )
        for s in steps
    )
    session.flush()


def _refuse_a_twin(session: Session, path: EscalationPath) -> None:
    """Two active paths for the same category and service would make the choice arbitrary."""
    if not path.active:
        return
    twin = session.scalar(
        select(EscalationPath.name).where(
            EscalationPath.id != path.id,
            EscalationPath.active.is_(True),
            EscalationPath.category_id.is_(None)
            if path.category_id is None
            else EscalationPath.category_id == path.category_id,
            EscalationPath.service_id.is_(None)
            if path.service_id is None
            else EscalationPath.service_id == path.service_id,
        )
    )
    if twin is not None:
        raise Conflict(
            f"the active path {twin!r} already covers this category and service; "
            "change or deactivate it first"
        )


def create_path(session: Session, actor: Actor, values: dict[str, Any]) -> EscalationPath:
    require_admin(actor)
    errors = _path_problems(session, values)
    if errors:
        raise InvalidInput("the escalation path is not valid", errors=errors)
    now = clock.now()
    row = EscalationPath(
        name=values["name"],
        category_id=values.get("category_id"),
        service_id=values.get("service_id"),
        active=values.get("active", True),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    flush_unique(session, f"an escalation path named {row.name!r}")
    _refuse_a_twin(session, row)
    _write_steps(session, row, values["steps"])
    queries.forget_cached(session)
    return row


def update_path(
    session: Session, actor: Actor, row: EscalationPath, values: dict[str, Any]
) -> EscalationPath:
    """Changes apply from the next escalation of each incident on."""
    require_admin(actor)
    errors = _path_problems(session, values)
    if errors:
        raise InvalidInput("the escalation path is not valid", errors=errors)
    for name in ("name", "category_id", "service_id", "active"):
        if name in values:
            setattr(row, name, values[name])
    row.updated_at = clock.now()
    flush_unique(session, f"an escalation path named {row.name!r}")
    _refuse_a_twin(session, row)
    if values.get("steps") is not None:
        _write_steps(session, row, values["steps"])
    queries.forget_cached(session)
    return row


def delete_path(session: Session, actor: Actor, row: EscalationPath) -> None:
    """Incidents keep their escalation log (it names the path by its rule id)."""
    require_admin(actor)
    session.execute(delete(EscalationStep).where(EscalationStep.path_id == row.id))
    session.delete(row)
    session.flush()
    queries.forget_cached(session)


# ----------------------------------------------------------------------------- levels


def _level_problems(session: Session, values: dict[str, Any]) -> list[dict[str, str]]:
    """`values` is the whole level as it would be stored."""
    errors: list[dict[str, str]] = []
    if values["trigger"] == rules.Trigger.percent:
        if values.get("percent") is None:
            errors.append({"field": "percent", "msg": "required for a percent trigger"})
        if values.get("delay_seconds") is not None:
            errors.append({"field": "delay_seconds", "msg": "only for a delay trigger"})
    else:
        if values.get("delay_seconds") is None:
            errors.append({"field": "delay_seconds", "msg": "required for a delay trigger"})
        if values.get("percent") is not None:
            errors.append({"field": "percent", "msg": "only for a percent trigger"})
        if values.get("clock") not in (None, rules.ClockKind.resolution):
            errors.append(
                {"field": "clock", "msg": "a delay is business time on the resolution clock"}
            )
    if values.get("group_id") is not None and session.get(SupportGroup, values["group_id"]) is None:
        errors.append({"field": "group_id", "msg": "not found"})
    for i, user_id in enumerate(values.get("notify_user_ids") or []):
        user = session.get(User, user_id)
        if user is None or not user.is_active:
            errors.append({"field": f"notify_user_ids.{i}", "msg": "no such active user"})
        elif user.role not in STAFF:
            errors.append({"field": f"notify_user_ids.{i}", "msg": "not service desk staff"})
    if not (
        values.get("notify_group_manager")
        or values.get("notify_incident_managers")
        or values.get("notify_user_ids")
    ):
        errors.append(
            {
                "field": "notify_user_ids",
                "msg": "a level must notify someone: the group manager, the incident managers "
                "or named users",
            }
        )
    return errors


def _level_values(row: EscalationLevel | None, values: dict[str, Any]) -> dict[str, Any]:
    """The level after the change; a trigger change drops the other trigger's settings."""
    current: dict[str, Any] = {}
    if row is not None:
        current = {
            name: getattr(row, name)
            for name in (
                "name",
                "priority",
                "group_id",
                "trigger",
                "clock",
                "percent",
                "delay_seconds",
                "notify_group_manager",
                "notify_incident_managers",
                "notify_user_ids",
                "active",
            )
        }
        if values.get("trigger") not in (None, row.trigger):
            current.update(clock=None, percent=None, delay_seconds=None)
    merged = {**current, **values}
    merged["notify_user_ids"] = list(dict.fromkeys(merged.get("notify_user_ids") or []))
    return merged


def _checked_level(
    session: Session, row: EscalationLevel | None, values: dict[str, Any]
) -> dict[str, Any]:
    errors = _not_null(values, NOT_NULL_LEVEL)
    if errors:
        raise InvalidInput("the escalation level is not valid", errors=errors)
    merged = _level_values(row, values)
    if merged.get("trigger") not in set(rules.Trigger):
        raise InvalidInput(
            "the escalation level is not valid",
            errors=[{"field": "trigger", "msg": "percent or delay"}],
        )
    errors = _level_problems(session, merged)
    if errors:
        raise InvalidInput("the escalation level is not valid", errors=errors)
    if merged["trigger"] == rules.Trigger.delay:  # business time on the resolution clock
        merged["clock"] = None
    elif merged.get("clock") is None:
        merged["clock"] = rules.ClockKind.resolution.value
    return merged


def recheck_open_incidents(session: Session) -> int:
    """Make every open incident due now: the worker recomputes each schedule (and fires
    what the changed levels make due). Returns how many incidents."""
    result = session.execute(
        update(Incident)
        .where(Incident.state.in_(sorted(OPEN)))
        .values(escalation_check_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    schedule.forget_cached(session)
    return int(getattr(result, "rowcount", 0) or 0)


def create_level(session: Session, actor: Actor, values: dict[str, Any]) -> EscalationLevel:
    require_admin(actor)
    merged = _checked_level(session, None, {**LEVEL_DEFAULTS, **values})
    now = clock.now()
    row = EscalationLevel(**merged, created_at=now, updated_at=now)
    session.add(row)
    flush_unique(session, f"an escalation level named {row.name!r}")
    recheck_open_incidents(session)
    return row


def update_level(
    session: Session, actor: Actor, row: EscalationLevel, values: dict[str, Any]
) -> EscalationLevel:
    require_admin(actor)
    merged = _checked_level(session, row, values)
    for name, value in merged.items():
        setattr(row, name, value)
    row.updated_at = clock.now()
    flush_unique(session, f"an escalation level named {row.name!r}")
    recheck_open_incidents(session)
    return row


def delete_level(session: Session, actor: Actor, row: EscalationLevel) -> None:
    """Incidents keep their escalation log; the id is never given to another level."""
    require_admin(actor)
    session.delete(row)
    session.flush()
    recheck_open_incidents(session)
