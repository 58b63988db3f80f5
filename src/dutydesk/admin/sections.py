"""What every generic admin section is: its table, its forms, and the service calls behind
them. Each section spells out its own service calls (the same the admin API makes); the
generic routes in `admin/web.py` only parse, validate, call and render."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor
from dutydesk.admin.forms import Action, Field, Row

Values = Mapping[str, object]


@dataclass(frozen=True)
class Done:
    """The outcome of a create: the flash message, and a secret to show once (tokens)."""

    message: str
    secret: str = ""


@dataclass(frozen=True)
class Edit:
    """An edit page: its heading, fields (filled), buttons and an optional member list."""

    heading: str
    fields: list[Field]
    values: dict[str, object]
    actions: tuple[Action, ...] = ()
    members: tuple[Row, ...] | None = None
    member_choices: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Section:
    key: str  # the URL part: /admin/<key>
    title: str
    singular: str
    headers: tuple[str, ...]
    rows: Callable[[Session], list[Row]]
    create_fields: Callable[[Session], list[Field]]
    create_schema: type[BaseModel]
    create: Callable[[Session, Actor, BaseModel], Done]
    edit: Callable[[Session, int], Edit] | None = None
    edit_schema: type[BaseModel] | None = None
    update: Callable[[Session, Actor, int, BaseModel], str] | None = None
    delete: Callable[[Session, Actor, int], str] | None = None
    aliases: Mapping[str, str] = field(default_factory=dict)  # service field → form field
    hint: str = ""
