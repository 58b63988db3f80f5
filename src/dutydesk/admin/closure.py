"""Admin section of the closure checklist; writes through `incidents.checklist`, as the
closure API (`incidents/closure_api.py`) does."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor
from dutydesk.admin.forms import Field, Row, options
from dutydesk.admin.people import body_of, yes
from dutydesk.admin.sections import Done, Edit, Section
from dutydesk.incidents import checklist
from dutydesk.incidents.schemas import ClosureCheckPatch, ClosureCheckWrite

KIND_CHOICES = [("field", "a field must be filled"), ("manual", "ticked by hand")]
FIELD_HINT = "Only for field items: the incident field that must be filled."


def check_rows(session: Session) -> list[Row]:
    return [
        Row(
            (c.label, c.key, c.kind, c.field or "", str(c.position), yes(c.is_active)),
            href=f"/admin/closure-checks/{c.id}",
        )
        for c in checklist.all_checks(session)
    ]


def _fields() -> list[Field]:
    field_choices = options([(f, f.replace("_", " ")) for f in checklist.FIELDS], empty="None")
    return [
        Field("label", "Label", required=True),
        Field("kind", "Kind", "select", KIND_CHOICES),
        Field("field", "Field", "id", field_choices, hint=FIELD_HINT),
        Field("position", "Position", "number", value="0", hint="Lower numbers come first."),
        Field("is_active", "Active", "checkbox", value="on"),
    ]


def check_fields(session: Session) -> list[Field]:
    key_hint = "A short code such as ci_recorded; it cannot change later."
    return [Field("key", "Key", required=True, hint=key_hint), *_fields()]


def create_check(session: Session, actor: Actor, body: BaseModel) -> Done:
    row = checklist.create_check(session, actor, body_of(body, ClosureCheckWrite).model_dump())
    return Done(f"Closure check {row.label} was added.")


def edit_check(session: Session, check_id: int) -> Edit:
    c = checklist.get_check(session, check_id)
    values: dict[str, object] = {
        "label": c.label,
        "kind": c.kind,
        "field": c.field,
        "position": c.position,
        "is_active": c.is_active,
    }
    return Edit(heading=f"Closure check {c.key}", fields=_fields(), values=values)


def update_check(session: Session, actor: Actor, check_id: int, body: BaseModel) -> str:
    row = checklist.get_check(session, check_id)
    checklist.update_check(session, actor, row, body_of(body, ClosureCheckPatch).model_dump())
    return f"Closure check {row.label} was saved."


def delete_check(session: Session, actor: Actor, check_id: int) -> str:
    row = checklist.get_check(session, check_id)
    checklist.delete_check(session, actor, row)
    return f"Closure check {row.label} was deleted."


CLOSURE_CHECKS = Section(
    key="closure-checks",
    title="Closure checklist",
    singular="closure check",
    headers=("Label", "Key", "Kind", "Field", "Position", "Active"),
    rows=check_rows,
    create_fields=check_fields,
    create_schema=ClosureCheckWrite,
    create=create_check,
    edit=edit_check,
    edit_schema=ClosureCheckPatch,
    update=update_check,
    delete=delete_check,
    hint="What must be done before an incident is resolved or closed.",
)
