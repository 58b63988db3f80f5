"""The closure checklist (SPEC §5): what must hold before an incident may be closed.

An item is either a ``field`` item (the incident's field is set: a category, a CI, …) or a
``manual`` item an agent ticks (``checklist: ["caller_informed"]`` on the action request);
the ticks stay on the incident (``closure_ticks``). The checklist is enforced when an agent
resolves (a resolved incident can close without an agent: the requester confirms, or the
worker closes it after the waiting time) and again when an agent closes. The admin edits the
items; the evaluation (``missing``) is pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, require_admin
from dutydesk.incidents import history
from dutydesk.kernel import clock
from dutydesk.kernel.errors import InvalidInput, NotFound
from dutydesk.kernel.persistence import flush_unique
from dutydesk.models import ClosureCheck, Incident

KINDS = ("field", "manual")
# API name of a field item -> the incident attribute that must be set.
FIELDS: dict[str, str] = {
    "category": "category_id",
    "subcategory": "subcategory_id",
    "service": "service_id",
    "ci": "ci_id",
    "customer": "customer_id",
    "caller": "caller_id",
    "assignment_group": "assignment_group_id",
    "assignee": "assignee_id",
    "resolution_code": "resolution_code",
    "resolution_notes": "resolution_notes",
}


@dataclass(frozen=True)
class Item:
    key: str
    label: str
    kind: str
    field: str | None


@dataclass(frozen=True)
class Outcome:
    item: Item
    done: bool


def evaluate(items: Sequence[Item], values: dict[str, Any], ticks: Iterable[str]) -> list[Outcome]:
    """Each item and whether it holds, given the incident's field values and the ticks."""
    ticked = set(ticks)
    out = []
    for item in items:
        if item.kind == "field" and item.field is not None:
            value = values.get(FIELDS[item.field])
            done = value is not None and (not isinstance(value, str) or bool(value.strip()))
        else:
            done = item.key in ticked
        out.append(Outcome(item, done))
    return out


def missing(items: Sequence[Item], values: dict[str, Any], ticks: Iterable[str]) -> list[Item]:
    return [o.item for o in evaluate(items, values, ticks) if not o.done]


# ----------------------------------------------------------------------------- reading


def all_checks(session: Session) -> list[ClosureCheck]:
    return list(
        session.scalars(select(ClosureCheck).order_by(ClosureCheck.position, ClosureCheck.id))
    )


def active_items(session: Session) -> list[Item]:
    return [
        Item(row.key, row.label, row.kind, row.field)
        for row in all_checks(session)
        if row.is_active
    ]


def get_check(session: Session, check_id: int) -> ClosureCheck:
    row = session.get(ClosureCheck, check_id)
    if row is None:
        raise NotFound(f"closure check {check_id} not found")
    return row


def incident_values(incident: Incident) -> dict[str, Any]:
    return {column: getattr(incident, column) for column in FIELDS.values()}


def status_of(session: Session, incident: Incident) -> list[Outcome]:
    """The active checklist as it stands for this incident (shown on the incident)."""
    return evaluate(active_items(session), incident_values(incident), incident.closure_ticks or [])


# ----------------------------------------------------------------------------- writing


def require_complete(
    session: Session,
    actor: Actor,
    incident: Incident,
    ticked: Sequence[str] | None,
    *,
    doing: str,
    setting: dict[str, Any] | None = None,
) -> None:
    """Refuse (422, naming every open item) unless the checklist holds with the newly ticked
    manual items (and the column values the action is `setting`); then keep the new ticks on
    the incident, logged. Nothing is written when it refuses."""
    items = active_items(session)
    manual = {item.key for item in items if item.kind == "manual"}
    given = list(dict.fromkeys(ticked or []))
    unknown = [key for key in given if key not in manual]
    if unknown:
        raise InvalidInput(
            "the checklist names items that are not active manual closure checks",
            errors=[
                {"field": "checklist", "msg": f"{key!r} is not one of {sorted(manual) or 'none'}"}
                for key in unknown
            ],
        )
    before = list(incident.closure_ticks or [])
    after = before + [key for key in given if key not in before]
    open_items = missing(items, {**incident_values(incident), **(setting or {})}, after)
    if open_items:
        raise InvalidInput(
            f"the closure checklist is not complete, so the incident cannot be {doing}",
            errors=[
                {
                    "field": "checklist" if item.kind == "manual" else str(item.field),
                    "msg": f"{item.label} ({item.key})",
                }
                for item in open_items
            ],
        )
    if after != before:
        incident.closure_ticks = after
        history.record(
            session,
            incident,
            actor,
            "checklist_ticked",
            field="closure_ticks",
            old=before,
            new=after,
            rule_id="CHK",
        )


def _checked(values: dict[str, Any], row: ClosureCheck | None) -> dict[str, Any]:
    kind = values.get("kind", row.kind if row else None)
    if kind == "manual" and "field" not in values:
        values = {**values, "field": None}
    field = values.get("field", row.field if row else None)
    errors = []
    if kind not in KINDS:
        errors.append({"field": "kind", "msg": f"one of {', '.join(KINDS)}"})
    elif kind == "field" and field not in FIELDS:
        errors.append({"field": "field", "msg": f"one of {', '.join(FIELDS)}"})
    elif kind == "manual" and field is not None:
        errors.append({"field": "field", "msg": "a manual item has no field"})
    if errors:
        raise InvalidInput("the closure check is not valid", errors=errors)
    return values


CHECK_FIELDS = ("key", "label", "kind", "field", "position", "is_active")


def create_check(session: Session, actor: Actor, values: dict[str, Any]) -> ClosureCheck:
    require_admin(actor)
    values = _checked({k: v for k, v in values.items() if k in CHECK_FIELDS}, None)
    now = clock.now()
    row = ClosureCheck(**values, created_at=now, updated_at=now)
    session.add(row)
    flush_unique(session, f"a closure check {row.key!r}")
    return row


def update_check(
    session: Session, actor: Actor, row: ClosureCheck, values: dict[str, Any]
) -> ClosureCheck:
    require_admin(actor)
    values = _checked({k: v for k, v in values.items() if k in CHECK_FIELDS}, row)
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = clock.now()
    flush_unique(session, f"a closure check {row.key!r}")
    return row


def delete_check(session: Session, actor: Actor, row: ClosureCheck) -> None:
    """Incidents keep the ticks they had; a deleted item is simply no longer asked for."""
    require_admin(actor)
    session.delete(row)
    session.flush()
