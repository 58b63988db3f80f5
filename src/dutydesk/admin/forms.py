"""Form plumbing of the admin screens: field descriptors the `_macros.html` macros draw, the
parsing of a submitted form into the API's own input schema, and the errors of a refused
write placed next to their fields (pure: no database, no FastAPI)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from dutydesk.kernel.errors import DomainError

FORM = "_form"  # the key of errors that belong to no single field (shown above the form)
Kind = Literal[
    "text",
    "email",
    "password",
    "textarea",
    "select",
    "id",
    "checkbox",
    "number",
    "minutes",
    "ints",
    "checks",
    "datetime",
]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Field:
    """One input of a form. `id` is a select of records whose empty choice means None;
    `number` a whole number or nothing; `minutes` a duration typed in minutes and sent to the
    service in seconds; `ints` a comma-separated list of whole numbers; `checks` a group of
    checkboxes (several values, kept one per line); `datetime` a date and time in UTC."""

    name: str
    label: str
    kind: Kind = "text"
    options: Sequence[tuple[str, str]] = ()
    hint: str = ""
    required: bool = False
    value: str = ""
    rows: int = 3  # a textarea's height


@dataclass
class Form:
    fields: list[Field]
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def filled(self, values: Mapping[str, Any]) -> Form:
        shown = {f.name: _text(values.get(f.name, f.value)) for f in self.fields}
        return Form([replace(f, value=shown[f.name]) for f in self.fields], shown, self.errors)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else ""
    if isinstance(value, list | tuple):
        return "\n".join(str(v) for v in value)
    return str(value)


def options(rows: Sequence[tuple[object, str]], *, empty: str = "") -> list[tuple[str, str]]:
    """Select options from (value, label) pairs, with an optional first empty choice."""
    found = [(str(value), label) for value, label in rows]
    return [("", empty), *found] if empty else found


def submitted(fields: Sequence[Field], form: Mapping[str, Any]) -> dict[str, str]:
    """The raw text of each field (an unticked checkbox is absent from a form post; the
    values of a checkbox group come one per line, see `admin.web.form_data`)."""
    return {f.name: str(form.get(f.name, "")) for f in fields}


def parsed(fields: Sequence[Field], raw: Mapping[str, str]) -> dict[str, object]:
    """Text to the API's types: ids to int (empty: None), checkboxes to bool, empty optional
    text to None where the field is not required."""
    values: dict[str, object] = {}
    for f in fields:
        text = raw.get(f.name, "")
        if f.kind == "checkbox":
            values[f.name] = text in ("on", "true", "1")
        elif f.kind in ("id", "number"):
            values[f.name] = _int_or_text(text.strip()) if text.strip() else None
        elif f.kind == "minutes":
            found = _int_or_text(text.strip()) if text.strip() else None
            values[f.name] = found * 60 if isinstance(found, int) else found
        elif f.kind == "ints":
            parts = [p.strip() for p in text.split(",") if p.strip()]
            values[f.name] = [_int_or_text(p) for p in parts]
        elif f.kind == "datetime":
            values[f.name] = utc_text(text.strip()) if text.strip() else None
        elif f.kind == "checks":
            values[f.name] = [line for line in text.split("\n") if line]
        elif f.kind == "password":
            values[f.name] = text or None
        else:
            values[f.name] = text
    return values


def utc_text(text: str) -> str:
    """A `datetime-local` value ("2026-12-07T10:00") read as UTC; text that already names
    its offset is left to the schema."""
    has_zone = text.endswith("Z") or "+" in text[10:] or "-" in text[10:]
    return text if has_zone else f"{text}+00:00"


def input_time(moment: datetime | None) -> str:
    """The `datetime-local` value of an aware datetime, in UTC."""
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def _int_or_text(text: str) -> object:
    return int(text) if text.isdigit() and len(text) < 18 else text  # the schema says "not int"


def validate(schema: type[M], values: Mapping[str, object], aliases: Mapping[str, str]) -> M:
    """`schema.model_validate`, its errors raised as a FormInvalid keyed by field name."""
    try:
        return schema.model_validate(dict(values))
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else FORM
            errors.setdefault(aliases.get(name, name), _sentence(error["msg"]))
        raise FormInvalid(errors) from exc


class FormInvalid(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("the form is not valid")
        self.errors = errors


def domain_errors(
    exc: DomainError, known: Sequence[str], aliases: Mapping[str, str]
) -> dict[str, str]:
    """A service's refusal: per-field `errors` next to their fields, the rest above the form."""
    errors: dict[str, str] = {}
    for item in exc.errors:
        name = aliases.get(str(item.get("field", "")), str(item.get("field", "")))
        key = name if name in known else FORM
        message = _sentence(str(item.get("msg", exc.detail)))
        errors[key] = f"{errors[key]} {message}" if key in errors else message
    if not errors:
        errors[FORM] = _sentence(exc.detail)
    return errors


def _sentence(text: str) -> str:
    text = text.strip().removeprefix("Value error, ")
    if not text:
        return "Not valid."
    return f"{text[:1].upper()}{text[1:]}{'' if text.endswith(('.', '?', '!')) else '.'}"


@dataclass(frozen=True)
class Action:
    """A POST button (CSRF included by the macro); `confirm` asks first (data-confirm)."""

    label: str
    url: str
    confirm: str = ""
    danger: bool = False


@dataclass(frozen=True)
class Row:
    cells: tuple[str, ...]
    href: str = ""  # the edit page, when there is one
    actions: tuple[Action, ...] = ()


def matching(rows: Sequence[Row], query: str) -> list[Row]:
    """The rows with every word of the search in one of their cells (case-insensitive)."""
    words = query.lower().split()
    return [row for row in rows if all(any(w in c.lower() for c in row.cells) for w in words)]


def sorted_rows(rows: Sequence[Row], column: int, descending: bool) -> list[Row]:
    def key(row: Row) -> tuple[int, str]:
        cell = row.cells[column]
        return (0, cell.zfill(20)) if cell.isdigit() else (1, cell.lower())

    return sorted(rows, key=key, reverse=descending)
