"""Business rules as data (pure): checking a rule's conditions and actions when it is saved,
and evaluating the conditions over a plain view of an incident's fields.

A view maps each field to a value: text fields to ``str``, levels to ``int``, references
(group, service, …) to a ``Ref`` (id and name, or None), tags to a list of strings. A
condition on a reference compares the id when given a number and the name (case-insensitive)
when given text. Python's ``re`` has no timeout, so a pattern is limited to
``MAX_PATTERN`` characters and is matched against the first ``MAX_INPUT`` characters only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

MAX_PATTERN = 200
MAX_INPUT = 10_000
MAX_CONDITIONS = 50
MAX_ACTIONS = 20
MAX_LIST = 100
MAX_TAG = 40
TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,39}$")


@dataclass(frozen=True)
class Ref:
    """A referenced record as a rule sees it."""

    id: int
    name: str


FieldValue = str | int | Ref | list[str] | None

TEXT = "text"
LEVEL = "level"
REF = "ref"
TAGS = "tags"
FIELDS: dict[str, str] = {
    "short_description": TEXT,
    "description": TEXT,
    "channel": TEXT,
    "state": TEXT,
    "impact": LEVEL,
    "urgency": LEVEL,
    "priority": LEVEL,
    "customer": REF,
    "service": REF,
    "ci": REF,
    "category": REF,
    "subcategory": REF,
    "caller": REF,
    "assignment_group": REF,
    "assignee": REF,
    "tags": TAGS,
}
# Which operators each kind of field takes.
OPERATORS: dict[str, frozenset[str]] = {
    TEXT: frozenset(
        {"equals", "not_equals", "in", "contains", "regex", "is_empty", "is_not_empty"}
    ),
    LEVEL: frozenset(
        {"equals", "not_equals", "in", "gt", "lt", "gte", "lte", "is_empty", "is_not_empty"}
    ),
    REF: frozenset({"equals", "not_equals", "in", "contains", "regex", "is_empty", "is_not_empty"}),
    TAGS: frozenset({"contains", "in", "is_empty", "is_not_empty"}),
}
ALL_OPERATORS = frozenset().union(*OPERATORS.values())
NO_VALUE = frozenset({"is_empty", "is_not_empty"})
ORDERING = frozenset({"gt", "lt", "gte", "lte"})

# Actions: the kind of value each takes. "ref:<table>" values are ids the service checks.
ACTIONS: dict[str, str] = {
    "set_category": "ref:category",
    "set_subcategory": "ref:subcategory",
    "set_service": "ref:service",
    "set_ci": "ref:ci",
    "set_impact": "level",
    "set_urgency": "level",
    "assign_group": "ref:group",
    "assign_user": "ref:user",
    "add_tags": "tags",
    "notify": "notify",
    "mark_request": "none",
}


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any = None


@dataclass(frozen=True)
class Action:
    type: str
    value: Any = None


@dataclass(frozen=True)
class RuleSpec:
    match: str
    conditions: tuple[Condition, ...]
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class Problem:
    path: str
    msg: str


@dataclass(frozen=True)
class References:
    """The ids a rule names, per table, for the service to check (path, id)."""

    items: tuple[tuple[str, str, int], ...]  # (table, path, id)


# ----------------------------------------------------------------- checking


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_scalar(kind: str, value: Any) -> str | None:
    """None when `value` fits a field of `kind`, else what is wrong."""
    if kind == LEVEL:
        return None if _is_int(value) and 1 <= value <= 5 else "must be a level from 1 to 5"
    if kind == REF:
        if _is_int(value) and value > 0:
            return None
        return (
            None if isinstance(value, str) and 0 < len(value) <= 200 else "must be an id or a name"
        )
    if kind == TAGS:
        return None if isinstance(value, str) and TAG_RE.match(value) else "must be a tag"
    ok = isinstance(value, str) and len(value) <= 500
    return None if ok else "must be text of at most 500 characters"


def _check_condition(n: int, raw: Any) -> tuple[Condition | None, list[Problem]]:
    here = f"conditions.{n}"
    if not isinstance(raw, Mapping):
        return None, [Problem(here, "must be an object with field, op and value")]
    unknown = sorted(set(raw) - {"field", "op", "value"})
    problems = [Problem(f"{here}.{k}", "unknown key") for k in unknown]
    field, op, value = raw.get("field"), raw.get("op"), raw.get("value")
    kind = FIELDS.get(field) if isinstance(field, str) else None
    if kind is None:
        problems.append(Problem(f"{here}.field", f"unknown field; fields are {', '.join(FIELDS)}"))
    if not isinstance(op, str) or op not in ALL_OPERATORS:
        ops = ", ".join(sorted(ALL_OPERATORS))
        problems.append(Problem(f"{here}.op", f"unknown operator; operators are {ops}"))
    elif kind is not None and op not in OPERATORS[kind]:
        allowed = ", ".join(sorted(OPERATORS[kind]))
        problems.append(Problem(f"{here}.op", f"{field} takes {allowed}"))
    if problems or kind is None or not isinstance(op, str):
        return None, problems
    problems.extend(_check_value(f"{here}.value", kind, op, value))
    return (None if problems else Condition(str(field), op, value)), problems


def _check_value(path: str, kind: str, op: str, value: Any) -> list[Problem]:
    if op in NO_VALUE:
        return [] if value is None else [Problem(path, f"{op} takes no value")]
    if op == "in":
        if not isinstance(value, list) or not 0 < len(value) <= MAX_LIST:
            return [Problem(path, f"in takes a list of 1 to {MAX_LIST} values")]
        return [
            Problem(f"{path}.{i}", wrong)
            for i, item in enumerate(value)
            if (wrong := _check_scalar(kind, item)) is not None
        ]
    if op == "regex":
        if not isinstance(value, str) or not 0 < len(value) <= MAX_PATTERN:
            return [Problem(path, f"a pattern of 1 to {MAX_PATTERN} characters")]
        try:
            re.compile(value)
        except re.error as exc:
            return [Problem(path, f"invalid regular expression: {exc}")]
        return []
    if op in ORDERING:
        wrong = _check_scalar(LEVEL, value)
        return [Problem(path, wrong)] if wrong else []
    if op == "contains":
        if kind == TAGS:
            wrong = _check_scalar(TAGS, value)
            return [Problem(path, wrong)] if wrong else []
        ok = isinstance(value, str) and 0 < len(value) <= 500
        return [] if ok else [Problem(path, "contains takes text of 1 to 500 characters")]
    wrong = _check_scalar(kind, value)
    return [Problem(path, wrong)] if wrong else []


def _check_action(n: int, raw: Any) -> tuple[Action | None, list[Problem]]:
    here = f"actions.{n}"
    if not isinstance(raw, Mapping):
        return None, [Problem(here, "must be an object with type and value")]
    problems = [Problem(f"{here}.{k}", "unknown key") for k in sorted(set(raw) - {"type", "value"})]
    kind_name, value = raw.get("type"), raw.get("value")
    kind = ACTIONS.get(kind_name) if isinstance(kind_name, str) else None
    if kind is None:
        known = ", ".join(ACTIONS)
        return None, [*problems, Problem(f"{here}.type", f"unknown action; actions are {known}")]
    path = f"{here}.value"
    if kind.startswith("ref:"):
        if not (_is_int(value) and value > 0):
            problems.append(Problem(path, "must be the id of a record"))
    elif kind == "level":
        if not (_is_int(value) and 1 <= value <= 5):
            problems.append(Problem(path, "must be a level from 1 to 5"))
    elif kind == "tags":
        if not isinstance(value, list) or not 0 < len(value) <= 20:
            problems.append(Problem(path, "add_tags takes a list of 1 to 20 tags"))
        else:
            problems.extend(
                Problem(f"{path}.{i}", f"a tag: letters, digits, _ . : - (at most {MAX_TAG})")
                for i, tag in enumerate(value)
                if not (isinstance(tag, str) and TAG_RE.match(tag))
            )
    elif kind == "notify":
        problems.extend(_check_notify(path, value))
    elif value is not None:
        problems.append(Problem(path, f"{kind_name} takes no value"))
    return (None if problems else Action(str(kind_name), value)), problems


def _check_notify(path: str, value: Any) -> list[Problem]:
    if not isinstance(value, Mapping):
        return [Problem(path, "notify takes {users: [ids], groups: [ids], message}")]
    problems = [
        Problem(f"{path}.{k}", "unknown key") for k in set(value) - {"users", "groups", "message"}
    ]
    for key in ("users", "groups"):
        ids = value.get(key, [])
        if (
            not isinstance(ids, list)
            or len(ids) > MAX_LIST
            or not all(_is_int(i) and i > 0 for i in ids)
        ):
            problems.append(Problem(f"{path}.{key}", "a list of ids"))
    if not value.get("users") and not value.get("groups"):
        problems.append(Problem(path, "name at least one user or group to notify"))
    message = value.get("message")
    if message is not None and not (isinstance(message, str) and len(message) <= 2000):
        problems.append(Problem(f"{path}.message", "text of at most 2000 characters"))
    return problems


def check_rule(match: Any, conditions: Any, actions: Any) -> tuple[RuleSpec | None, list[Problem]]:
    """The rule if it is well-formed, else every problem with its path (``conditions.2.op``)."""
    problems: list[Problem] = []
    if match not in ("all", "any"):
        problems.append(Problem("match", "all or any"))
    conds: list[Condition] = []
    acts: list[Action] = []
    if not isinstance(conditions, list) or len(conditions) > MAX_CONDITIONS:
        problems.append(Problem("conditions", f"a list of at most {MAX_CONDITIONS} conditions"))
    else:
        if match == "any" and not conditions:
            problems.append(Problem("conditions", "match any needs at least one condition"))
        for n, raw in enumerate(conditions):
            cond, found = _check_condition(n, raw)
            problems.extend(found)
            if cond is not None:
                conds.append(cond)
    if not isinstance(actions, list) or not 0 < len(actions) <= MAX_ACTIONS:
        problems.append(Problem("actions", f"a list of 1 to {MAX_ACTIONS} actions"))
    else:
        for n, raw in enumerate(actions):
            act, found = _check_action(n, raw)
            problems.extend(found)
            if act is not None:
                acts.append(act)
    if problems:
        return None, problems
    return RuleSpec(str(match), tuple(conds), tuple(acts)), []


def references(spec: RuleSpec) -> References:
    """Every id the rule names that must exist: numeric reference conditions and actions."""
    items: list[tuple[str, str, int]] = []
    for n, cond in enumerate(spec.conditions):
        if FIELDS[cond.field] != REF:
            continue
        table = _table_of_field(cond.field)
        values = cond.value if isinstance(cond.value, list) else [cond.value]
        for i, v in enumerate(values):
            if _is_int(v):
                suffix = f".{i}" if isinstance(cond.value, list) else ""
                items.append((table, f"conditions.{n}.value{suffix}", v))
    for n, act in enumerate(spec.actions):
        kind = ACTIONS[act.type]
        if kind.startswith("ref:"):
            items.append((kind.removeprefix("ref:"), f"actions.{n}.value", int(act.value)))
        elif kind == "notify":
            for key, table in (("users", "user"), ("groups", "group")):
                for i, v in enumerate(act.value.get(key, [])):
                    items.append((table, f"actions.{n}.value.{key}.{i}", v))
    return References(tuple(items))


def _table_of_field(field: str) -> str:
    return {"caller": "user", "assignee": "user", "assignment_group": "group"}.get(field, field)


# ----------------------------------------------------------------- evaluating


def _matches_one(cond: Condition, value: FieldValue) -> bool:
    op = cond.op
    if op in NO_VALUE:
        empty = value is None or value == "" or value == []
        return empty if op == "is_empty" else not empty
    if isinstance(value, list):  # tags
        tags = {t.casefold() for t in value}
        wanted = cond.value if op == "in" else [cond.value]
        return any(str(w).casefold() in tags for w in wanted)
    if op == "in":
        return any(_equals(value, item) for item in cond.value)
    if op == "equals":
        return _equals(value, cond.value)
    if op == "not_equals":
        return not _equals(value, cond.value)
    if op in ORDERING:
        if not _is_int(value):
            return False
        return _compare(op, int(str(value)), int(cond.value))
    text = _text(value)
    if text is None:
        return False
    if op == "contains":
        return str(cond.value).casefold() in text.casefold()
    return re.search(str(cond.value), text[:MAX_INPUT]) is not None  # regex


def _compare(op: str, left: int, right: int) -> bool:
    return {
        "gt": left > right,
        "lt": left < right,
        "gte": left >= right,
        "lte": left <= right,
    }[op]


def _text(value: FieldValue) -> str | None:
    if isinstance(value, Ref):
        return value.name
    return value if isinstance(value, str) else None


def _equals(value: FieldValue, wanted: Any) -> bool:
    if isinstance(value, Ref):
        if _is_int(wanted):
            return value.id == int(wanted)
        return isinstance(wanted, str) and value.name.casefold() == wanted.casefold()
    if value is None:
        return False
    if isinstance(value, str) and isinstance(wanted, str):
        return value.casefold() == wanted.casefold()
    return bool(value == wanted)


def matching(spec: RuleSpec, view: Mapping[str, FieldValue]) -> list[Condition] | None:
    """The conditions that held when the rule matches the view, None when it does not."""
    held = [c for c in spec.conditions if _matches_one(c, view.get(c.field))]
    if spec.match == "all":
        return held if len(held) == len(spec.conditions) else None
    return held or None


def describe(cond: Condition) -> str:
    """A condition as people read it: ``short_description contains 'vpn'``."""
    if cond.op in NO_VALUE:
        return f"{cond.field} {cond.op.replace('_', ' ')}"
    shown = ", ".join(map(repr, cond.value)) if isinstance(cond.value, list) else repr(cond.value)
    return f"{cond.field} {cond.op.replace('_', ' ')} {shown}"


def explain(name: str, rule_id: str, held: Sequence[Condition]) -> str:
    """The reason a firing records: the rule and the conditions that held."""
    why = "; ".join(describe(c) for c in held) or "no conditions (applies to every incident)"
    return f"rule {rule_id} '{name}' matched: {why}"
