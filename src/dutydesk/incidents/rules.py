"""Admin-editable incident rules kept in the setting table: priority matrix, checklist."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, require_admin
from dutydesk.incidents.priority import (
    CHECKLIST_FIELDS,
    DEFAULT_CHECKLIST,
    DEFAULT_MATRIX,
    PriorityMatrix,
)
from dutydesk.kernel import clock
from dutydesk.kernel.errors import InvalidInput
from dutydesk.models import Setting

MATRIX_KEY = "priority_matrix"
CHECKLIST_KEY = "logging_checklist"
LOGGING_RULES = "dutydesk.logging_rules"  # session.info key: read once per transaction
_LOGGING_ROWS = select(Setting.key, Setting.value).where(
    Setting.key.in_((MATRIX_KEY, CHECKLIST_KEY))
)  # built once: every write batch that logs an incident runs it


def _read(session: Session, key: str) -> object | None:
    row = session.get(Setting, key)
    return None if row is None else json.loads(row.value)


def _write(session: Session, actor: Actor, key: str, value: object) -> None:
    session.info.pop(LOGGING_RULES, None)
    row = session.get(Setting, key)
    text = json.dumps(value)
    if row is None:
        session.add(
            Setting(key=key, value=text, updated_at=clock.now(), updated_by_id=actor.user_id)
        )
    else:
        row.value = text
        row.updated_at = clock.now()
        row.updated_by_id = actor.user_id


def _matrix(cells: object) -> PriorityMatrix:
    if not isinstance(cells, list):
        return PriorityMatrix(DEFAULT_MATRIX)
    return PriorityMatrix(tuple(tuple(row) for row in cells))


def _checklist(required: object) -> tuple[str, ...]:
    if not isinstance(required, list):
        return DEFAULT_CHECKLIST
    return tuple(str(name) for name in required)


def get_priority_matrix(session: Session) -> PriorityMatrix:
    return _matrix(_read(session, MATRIX_KEY))


def get_logging_rules(session: Session) -> tuple[PriorityMatrix, tuple[str, ...]]:
    """The matrix and the checklist in one round trip (every new incident needs both).

    Kept for the rest of the transaction (a group commit opens many incidents in one), and
    forgotten when this transaction changes either of them.
    """
    cached: tuple[PriorityMatrix, tuple[str, ...]] | None = session.info.get(LOGGING_RULES)
    if cached is not None:
        return cached
    rows = {key: value for key, value in session.execute(_LOGGING_ROWS).all()}
    found = (
        _matrix(json.loads(rows[MATRIX_KEY]) if MATRIX_KEY in rows else None),
        _checklist(json.loads(rows[CHECKLIST_KEY]) if CHECKLIST_KEY in rows else None),
    )
    session.info[LOGGING_RULES] = found
    return found


def set_priority_matrix(session: Session, actor: Actor, cells: list[list[int]]) -> PriorityMatrix:
    require_admin(actor)
    matrix = PriorityMatrix(tuple(tuple(row) for row in cells))
    problems = matrix.problems()
    if problems:
        raise InvalidInput(
            "the priority matrix is not valid",
            errors=[{"field": "cells", "msg": p} for p in problems],
        )
    _write(session, actor, MATRIX_KEY, [list(row) for row in matrix.cells])
    return matrix


def get_checklist(session: Session) -> tuple[str, ...]:
    return _checklist(_read(session, CHECKLIST_KEY))


def set_checklist(session: Session, actor: Actor, required: list[str]) -> tuple[str, ...]:
    require_admin(actor)
    unknown = [name for name in required if name not in CHECKLIST_FIELDS]
    if unknown:
        raise InvalidInput(
            "unknown checklist fields",
            errors=[
                {"field": name, "msg": f"not one of {', '.join(CHECKLIST_FIELDS)}"}
                for name in unknown
            ],
        )
    if "short_description" not in required:
        required = ["short_description", *required]
    ordered = tuple(name for name in CHECKLIST_FIELDS if name in required)
    _write(session, actor, CHECKLIST_KEY, list(ordered))
    return ordered
