"""What every `dutydesk` command shares: settings, the database, errors, input and output.

A domain's commands live in ``cli/<domain>.py`` as one Typer ``app`` that ``cli/__init__.py``
mounts with one ``add_typer`` line. Commands write only through the domain's services, with
the system actor, inside one unit of work, so a refused command leaves nothing half-written.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import ArgumentError

from dutydesk.access.policy import Actor, system_actor
from dutydesk.config import Settings, get_settings
from dutydesk.db import Database, make_engine
from dutydesk.kernel.errors import DomainError, InvalidInput

M = TypeVar("M", bound=BaseModel)
BAD_INPUT = 2  # like a usage error: the command line or the file given is wrong
PIPE_WIDTH = 400  # tables printed to a pipe or file are not squeezed into 80 columns

out = Console(markup=False, highlight=False)
err = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (the API's shape)")]


def settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"DUTYDESK_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise fail(f"the configuration is not valid: {problems}", 2) from exc


def database() -> Database:
    config = settings()
    try:
        engine = make_engine(config.database_url, sqlite_synchronous=config.sqlite_synchronous)
    except (ArgumentError, ValueError) as exc:
        raise fail(f"DUTYDESK_DATABASE_URL / DUTYDESK_SQLITE_SYNCHRONOUS: {exc}", 2) from exc
    return Database(engine)


def actor() -> Actor:
    """Who the CLI acts as: the system, with admin rights (the shell account is the check)."""
    return system_actor()


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def domain_error(exc: DomainError, *, invalid_code: int = 1) -> typer.Exit:
    """A domain error as one line; `invalid_code` is the exit code of InvalidInput."""
    details = "; ".join(f"{e.get('field')}: {e.get('msg')}" for e in exc.errors)
    code = invalid_code if isinstance(exc, InvalidInput) else 1
    return fail(exc.detail + (f" ({details})" if details else ""), code)


@contextmanager
def handled() -> Iterator[None]:
    """Domain errors end the command: refused input exits 2, missing or conflicting records 1.
    Enter it before the unit of work, so the work is rolled back first."""
    try:
        yield
    except DomainError as exc:
        raise domain_error(exc, invalid_code=BAD_INPUT) from exc


# ----------------------------------------------------------------------------- input


def validated(model: type[M], **values: Any) -> M:
    """The API's request schema checks the CLI's input too; a refusal is one line, exit 2."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()
        )
        raise fail(f"invalid input: {problems}", BAD_INPUT) from exc


def read_text(source: str, what: str) -> str:
    """`-` reads stdin, anything else is a file name."""
    if source == "-":
        return sys.stdin.read()
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"{what}: cannot read {source}: {exc}", BAD_INPUT) from exc


def read_json_object(source: str, what: str) -> dict[str, Any]:
    """A JSON object given inline (starting with `{`), as a file name, or `-` for stdin."""
    text = source if source.lstrip().startswith(("{", "[")) else read_text(source, what)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(
            f"{what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            BAD_INPUT,
        ) from exc
    if not isinstance(value, dict):
        raise fail(f"{what} must be a JSON object, not {type(value).__name__}", BAD_INPUT)
    return value


_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, what: str) -> int:
    """Seconds from `3600`, `90s`, `45m`, `8h` or `2d`."""
    found = _DURATION.match(text.lower())
    if found is None:
        raise fail(f"{what}: {text!r} is not a duration (e.g. 3600, 45m, 8h, 2d)", BAD_INPUT)
    return int(found.group(1)) * _UNITS[found.group(2)]


def parse_int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise fail(f"{what}: {text!r} is not a number", BAD_INPUT) from exc


ANY = ("any", "none")  # a cleared selector (matches anything) or a cleared target


def is_any(text: str) -> bool:
    return text.strip().lower() in ANY


# ----------------------------------------------------------------------------- output


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def say(text: str) -> None:
    """A plain line on stdout, never wrapped (scripts may grep it)."""
    out.print(text, soft_wrap=True)


def print_table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A rich table; fitted to a terminal, at its natural width when piped (no wrapping)."""
    table = Table(*columns)
    for row in rows:
        table.add_row(*(cell_text(c) for c in row))
    wide = out if out.is_terminal else Console(markup=False, highlight=False, width=PIPE_WIDTH)
    wide.print(table)


def print_record(fields: Mapping[str, object]) -> None:
    """One record as a two-column table of field and value."""
    print_table(("field", "value"), [(name, value) for name, value in fields.items()])


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(cell_text(v) for v in value)
    return str(value)


def human_seconds(seconds: int | None) -> str:
    if seconds is None:
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
