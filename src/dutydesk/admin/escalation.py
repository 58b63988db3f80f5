"""Admin sections of escalation: functional paths (ordered steps of support groups) and
hierarchic levels. Writes go through `escalation.admin`, as `escalation/api.py` does."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, create_model
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor
from dutydesk.admin.forms import Field, Row, options
from dutydesk.admin.people import body_of, group_choices, staff_choices, yes
from dutydesk.admin.sections import Done, Edit, Section
from dutydesk.admin.sla import PRIORITIES, minutes
from dutydesk.catalog import queries as catalog
from dutydesk.escalation import admin, queries
from dutydesk.escalation.schemas import LevelCreate, LevelPatch
from dutydesk.kernel.errors import InvalidInput
from dutydesk.kernel.schemas import Input, Name

STEP_ROWS = 6  # rows of the form; the API takes up to 20 steps

# The path form: name, scope, and one group select + "auto" checkbox per step row.
PathForm: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "PathForm",
    __base__=Input,
    name=(Name, ...),
    category_id=(int | None, None),
    service_id=(int | None, None),
    active=(bool, False),
    **{f"step_{n}": (int | None, None) for n in range(1, STEP_ROWS + 1)},
    **{f"step_{n}_auto": (bool, False) for n in range(1, STEP_ROWS + 1)},
)


def path_values(form: BaseModel) -> tuple[dict[str, Any], list[int]]:
    """The API's values of the form (steps in row order, empty rows skipped) and the form
    row of each step, to place the service's `steps.N…` errors."""
    data = form.model_dump()
    rows = [n for n in range(1, STEP_ROWS + 1) if data[f"step_{n}"] is not None]
    steps = [
        {"level": i, "group_id": data[f"step_{n}"], "auto": data[f"step_{n}_auto"]}
        for i, n in enumerate(rows, start=1)
    ]
    values = {name: data[name] for name in ("name", "category_id", "service_id", "active")}
    values["steps"] = steps
    return values, rows


def _placed(exc: InvalidInput, rows: list[int]) -> InvalidInput:
    errors = []
    for error in exc.errors:
        field = str(error.get("field", ""))
        if field.startswith("steps"):
            parts = field.split(".")
            index = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            field = f"step_{rows[index] if index < len(rows) else 1}"
        errors.append({**error, "field": field})
    return InvalidInput(exc.detail, errors=errors)


def _path_call(fn: Any, form: BaseModel) -> Any:
    values, rows = path_values(form)
    try:
        return fn(values)
    except InvalidInput as exc:
        raise _placed(exc, rows) from exc


def path_rows(session: Session) -> list[Row]:
    paths = queries.list_paths(session)
    steps = queries.steps_of(session, [p.id for p in paths])
    groups = {int(v): label for v, label in group_choices(session) if v}
    categories = {c.id: c.name for c in catalog.list_categories(session)}
    services = {s.id: s.name for s in catalog.list_services(session)}
    return [
        Row(
            (
                p.name,
                categories.get(p.category_id, "") if p.category_id else "any",
                services.get(p.service_id, "") if p.service_id else "any",
                " → ".join(
                    groups.get(s.group_id, "?") + (" (auto)" if s.auto else "")
                    for s in sorted(steps.get(p.id, []), key=lambda s: s.level)
                ),
                yes(p.active),
            ),
            href=f"/admin/escalation-paths/{p.id}",
        )
        for p in paths
    ]


def path_fields(session: Session) -> list[Field]:
    categories = options([(c.id, c.name) for c in catalog.list_categories(session)], empty="Any")
    services = options([(s.id, s.name) for s in catalog.list_services(session)], empty="Any")
    groups = group_choices(session, "—")
    steps: list[Field] = []
    for n in range(1, STEP_ROWS + 1):
        hint = "In order; leave the rest empty." if n == 1 else ""
        steps.append(
            Field(f"step_{n}", f"Step {n}: group", "id", groups, required=n == 1, hint=hint)
        )
        steps.append(
            Field(f"step_{n}_auto", f"Escalate past step {n} when its OLA breaches", "checkbox")
        )
    return [
        Field("name", "Name", required=True),
        Field("category_id", "Category", "id", categories),
        Field("service_id", "Service", "id", services),
        Field("active", "Active", "checkbox", value="on"),
        *steps,
    ]


def create_path(session: Session, actor: Actor, body: BaseModel) -> Done:
    row = _path_call(lambda values: admin.create_path(session, actor, values), body)
    return Done(f"Escalation path {row.name} was added.")


def edit_path(session: Session, path_id: int) -> Edit:
    p = queries.get_path(session, path_id)
    values: dict[str, object] = {
        "name": p.name,
        "category_id": p.category_id,
        "service_id": p.service_id,
        "active": p.active,
    }
    ordered = sorted(queries.steps_of(session, [p.id]).get(p.id, []), key=lambda s: s.level)
    for n, step in enumerate(ordered[:STEP_ROWS], start=1):
        values[f"step_{n}"] = step.group_id
        values[f"step_{n}_auto"] = step.auto
    return Edit(heading=f"Escalation path {p.name}", fields=path_fields(session), values=values)


def update_path(session: Session, actor: Actor, path_id: int, body: BaseModel) -> str:
    row = queries.get_path(session, path_id)
    existing = len(queries.steps_of(session, [row.id]).get(row.id, []))
    if existing > STEP_ROWS:  # the form would drop the steps it cannot show
        raise InvalidInput(
            f"this path has {existing} steps and the form shows {STEP_ROWS}; "
            "change it through the API (PATCH /api/v1/admin/escalation/paths/{id})"
        )
    _path_call(lambda values: admin.update_path(session, actor, row, values), body)
    return f"Escalation path {row.name} was saved."


def delete_path(session: Session, actor: Actor, path_id: int) -> str:
    row = queries.get_path(session, path_id)
    admin.delete_path(session, actor, row)
    return f"Escalation path {row.name} was deleted."


PATHS = Section(
    key="escalation-paths",
    title="Escalation paths",
    singular="escalation path",
    headers=("Name", "Category", "Service", "Steps", "Active"),
    rows=path_rows,
    create_fields=path_fields,
    create_schema=PathForm,
    create=create_path,
    edit=edit_path,
    edit_schema=PathForm,
    update=update_path,
    delete=delete_path,
    hint="Functional escalation: the groups an incident moves through, in order.",
)


# ---------------------------------------------------------------- hierarchic levels

TRIGGERS = [("percent", "a share of the SLA clock"), ("delay", "a delay of business time")]
CLOCKS = [("", "—"), ("response", "response"), ("resolution", "resolution")]


def level_rows(session: Session) -> list[Row]:
    groups = {int(v): label for v, label in group_choices(session) if v}
    rows = []
    for lv in queries.list_levels(session):
        when = (
            f"{lv.percent}% of {lv.clock or 'resolution'}"
            if lv.trigger == "percent"
            else f"after {minutes(lv.delay_seconds)} min"
        )
        cells = (
            lv.name,
            f"P{lv.priority}" if lv.priority else "any",
            groups.get(lv.group_id, "") if lv.group_id else "any",
            when,
            yes(lv.active),
        )
        rows.append(Row(cells, href=f"/admin/escalation-levels/{lv.id}"))
    return rows


def level_fields(session: Session) -> list[Field]:
    return [
        Field("name", "Name", required=True),
        Field("priority", "Priority", "id", [("", "Any"), *PRIORITIES]),
        Field("group_id", "Support group", "id", group_choices(session, "Any")),
        Field("trigger", "Escalate at", "select", TRIGGERS),
        Field("clock", "Clock (for a share)", "id", CLOCKS),
        Field("percent", "Share of the clock (%)", "number"),
        Field("delay_seconds", "Delay (minutes of business time)", "minutes"),
        Field("notify_group_manager", "Notify the group's manager", "checkbox", value="on"),
        Field("notify_incident_managers", "Notify the incident managers", "checkbox"),
        Field("notify_user_ids", "Also notify", "checks", staff_choices(session)),
        Field("active", "Active", "checkbox", value="on"),
    ]


def create_level(session: Session, actor: Actor, body: BaseModel) -> Done:
    row = admin.create_level(session, actor, body_of(body, LevelCreate).model_dump())
    return Done(f"Escalation level {row.name} was added.")


def edit_level(session: Session, level_id: int) -> Edit:
    lv = queries.get_level(session, level_id)
    values: dict[str, object] = {
        "name": lv.name,
        "priority": lv.priority,
        "group_id": lv.group_id,
        "trigger": lv.trigger,
        "clock": lv.clock,
        "percent": lv.percent,
        "delay_seconds": minutes(lv.delay_seconds),
        "notify_group_manager": lv.notify_group_manager,
        "notify_incident_managers": lv.notify_incident_managers,
        "notify_user_ids": list(lv.notify_user_ids),
        "active": lv.active,
    }
    return Edit(heading=f"Escalation level {lv.name}", fields=level_fields(session), values=values)


def update_level(session: Session, actor: Actor, level_id: int, body: BaseModel) -> str:
    row = queries.get_level(session, level_id)
    admin.update_level(session, actor, row, body_of(body, LevelPatch).model_dump())
    return f"Escalation level {row.name} was saved."


def delete_level(session: Session, actor: Actor, level_id: int) -> str:
    row = queries.get_level(session, level_id)
    admin.delete_level(session, actor, row)
    return f"Escalation level {row.name} was deleted."


LEVELS = Section(
    key="escalation-levels",
    title="Escalation levels",
    singular="escalation level",
    headers=("Name", "Priority", "Group", "When", "Active"),
    rows=level_rows,
    create_fields=level_fields,
    create_schema=LevelCreate,
    create=create_level,
    edit=edit_level,
    edit_schema=LevelPatch,
    update=update_level,
    delete=delete_level,
    aliases={"notify_user_ids.0": "notify_user_ids"},
    hint="Hierarchic escalation: who is told when an incident's SLA clock runs late.",
)
