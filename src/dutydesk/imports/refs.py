"""Reference data of an import by name (users, groups, categories, CIs), resolved in bulk.

Each batch asks the database once per kind for the names it needs and has not seen yet, and
creates the missing ones with one multi-row INSERT per kind; the names seen in committed
batches are remembered across batches (`RefCache`), so a long import stops querying them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, Table, insert, select
from sqlalchemy.orm import Session

from dutydesk.db import Base
from dutydesk.imports.servicenow import IncidentValues
from dutydesk.models import Category, ConfigurationItem, SupportGroup, User

CHUNK = 2_000  # names per IN (…) list
K = TypeVar("K")


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "user"


@dataclass
class Refs:
    """Names → ids; keys as stored: username slug, group/CI name, (parent id, category name)."""

    users: dict[str, int] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)
    cats: dict[tuple[int | None, str], int] = field(default_factory=dict)
    cis: dict[str, int] = field(default_factory=dict)

    def clear(self) -> None:
        for names in (self.users, self.groups, self.cats, self.cis):
            names.clear()

    def update(self, other: Refs) -> None:
        self.users.update(other.users)
        self.groups.update(other.groups)
        self.cats.update(other.cats)
        self.cis.update(other.cis)

    def user(self, name: str | None) -> int | None:
        return None if name is None else self.users[slug(name)]

    def group(self, name: str | None) -> int | None:
        return None if name is None else self.groups[name[:120]]

    def ci(self, name: str | None) -> int | None:
        return None if name is None else self.cis[name[:120]]

    def category(self, name: str | None, parent: int | None = None) -> int | None:
        return None if name is None else self.cats[(parent, name[:120])]


def table_of(model: type[Base]) -> Table:
    """The Core table of a model: multi-row INSERTs skip the ORM's per-object bookkeeping."""
    return model.__table__  # type: ignore[return-value]


def _chunks(items: Sequence[K]) -> Iterator[Sequence[K]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _ids_by_name(
    session: Session, id_col: Any, name_col: Any, names: Iterable[str]
) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(set(names))):
        stmt: Select[tuple[Any, Any]] = select(name_col, id_col).where(name_col.in_(chunk))
        found.update((str(n), int(i)) for n, i in session.execute(stmt))
    return found


def _ensure(
    session: Session,
    table: Table,
    id_col: Any,
    name_col: Any,
    wanted: dict[str, dict[str, Any]],
    known: dict[str, int],
) -> dict[str, int]:
    """Ids of every wanted name: known, found, or inserted now (one INSERT for all)."""
    out = {k: known[k] for k in wanted if k in known}
    missing = [k for k in wanted if k not in known]
    if not missing:
        return out
    out.update(_ids_by_name(session, id_col, name_col, missing))
    new = [wanted[k] for k in missing if k not in out]
    if new:
        session.execute(insert(table), new)
        out.update(_ids_by_name(session, id_col, name_col, [str(r[name_col.key]) for r in new]))
    return out


def resolve(session: Session, known: Refs, values: Sequence[IncidentValues], now: datetime) -> Refs:
    """Ids of every name the batch uses, creating the missing rows (first use sets the role)."""
    users: dict[str, dict[str, Any]] = {}
    groups: dict[str, dict[str, Any]] = {}
    cis: dict[str, dict[str, Any]] = {}
    tops: dict[str, dict[str, Any]] = {}
    for v in values:
        for name, role in ((v.caller, "requester"), (v.opened_by, "agent"), (v.assignee, "agent")):
            if name is not None and slug(name) not in users:
                username = slug(name)
                users[username] = {
                    "username": username,
                    "email": f"{username}@imported.invalid",
                    "full_name": name[:200],
                    "role": role,
                    "is_active": False,
                    "created_at": now,
                    "updated_at": now,
                }
        if v.group is not None:
            name = v.group[:120]
            groups.setdefault(name, {"name": name, "tier": "l1", "created_at": now})
        if v.ci is not None:
            name = v.ci[:120]
            cis.setdefault(
                name,
                {"name": name, "ci_class": "imported", "criticality": "medium", "created_at": now},
            )
        if v.category is not None:
            name = v.category[:120]
            tops.setdefault(name, {"name": name, "parent_id": None, "created_at": now})
    out = Refs()
    out.users = _ensure(session, table_of(User), User.id, User.username, users, known.users)
    out.groups = _ensure(
        session, table_of(SupportGroup), SupportGroup.id, SupportGroup.name, groups, known.groups
    )
    out.cis = _ensure(
        session, table_of(ConfigurationItem), ConfigurationItem.id, ConfigurationItem.name, cis,
        known.cis,
    )  # fmt: skip
    out.cats = _categories(session, known, values, tops, now)
    return out


def _categories(
    session: Session,
    known: Refs,
    values: Sequence[IncidentValues],
    tops: dict[str, dict[str, Any]],
    now: datetime,
) -> dict[tuple[int | None, str], int]:
    """Top-level categories first, then the subcategories under their parents."""
    cats: dict[tuple[int | None, str], int] = {}
    cats.update(_category_level(session, known, {(None, n): r for n, r in tops.items()}))
    subs: dict[tuple[int | None, str], dict[str, Any]] = {}
    for v in values:
        if v.category is not None and v.subcategory is not None:
            parent = cats[(None, v.category[:120])]
            name = v.subcategory[:120]
            subs.setdefault((parent, name), {"name": name, "parent_id": parent, "created_at": now})
    cats.update(_category_level(session, known, subs))
    return cats


def _category_level(
    session: Session,
    known: Refs,
    wanted: dict[tuple[int | None, str], dict[str, Any]],
) -> dict[tuple[int | None, str], int]:
    out = {k: known.cats[k] for k in wanted if k in known.cats}
    missing = [k for k in wanted if k not in known.cats]

    def lookup(keys: Sequence[tuple[int | None, str]]) -> None:
        rows = session.execute(
            select(Category.id, Category.name, Category.parent_id).where(
                Category.name.in_(sorted({n for _p, n in keys}))
            )
        )
        wanted_keys = set(keys)
        for cid, name, parent in rows:
            if (parent, name) in wanted_keys:
                out[(parent, name)] = cid

    for chunk in _chunks(missing):
        lookup(chunk)
    new = [wanted[k] for k in missing if k not in out]
    if new:
        session.execute(insert(table_of(Category)), new)
        for chunk in _chunks([k for k in missing if k not in out]):
            lookup(chunk)
    return out
