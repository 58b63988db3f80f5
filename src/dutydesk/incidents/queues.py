"""The agent workspace's queues: what each tab lists, its counts, and the names the queue and
incident pages show next to ids (groups, people, customers, services, categories)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, func, literal, select, union_all
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, Role, can_see_customer
from dutydesk.incidents.lifecycle import OPEN
from dutydesk.incidents.queries import IncidentFilter, count_incidents_each, like_escaped
from dutydesk.kernel.errors import NotFound
from dutydesk.models import (
    Category,
    ConfigurationItem,
    Customer,
    Incident,
    Service,
    SupportGroup,
    User,
)

COUNT_CAP = 1000  # tab counts stop here ("1,000+"): a count never scans a million rows
NO_STATE = "none"  # no incident is in this state: a closed-only filter on an open queue
NO_ID = 0  # no row has id 0: an empty id list that still filters (no groups → no incidents)


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    help: str
    sort: str  # the tab's default order
    # the order of the index that answers the tab's count, when it is not `sort`'s
    count_sort: str | None = None


TABS: tuple[Tab, ...] = (
    Tab(
        "mine",
        "My work",
        "Open incidents assigned to you.",
        "priority,opened_at",
        count_sort="opened_at",  # ix_incident_assignee_opened (the open indexes: 300x slower)
    ),
    Tab("groups", "My groups", "Open incidents of your support groups.", "priority,opened_at"),
    Tab(
        "unassigned",
        "Unassigned",
        "Open incidents nobody holds yet: in your groups, or not in any group yet (internal "
        "ones and those of the customers you serve).",
        "priority,opened_at",
    ),
    Tab(
        "breaching",
        "Breaching soon",
        "Open incidents whose response or resolution is due within the next hours, or "
        "already breached; earliest resolution due first.",
        "resolve_by",
    ),
    Tab(
        "major",
        "Major",
        "There is no major-incident record yet: this tab lists the open P1 incidents.",
        "opened_at",
    ),
    Tab("all", "All", "Every incident you may see, open or not.", "-opened_at"),
)
TAB_KEYS = {tab.key: tab for tab in TABS}


def get_tab(key: str) -> Tab:
    if key not in TAB_KEYS:
        raise NotFound(f"there is no queue {key!r}")
    return TAB_KEYS[key]


def _both(mine: list[int], theirs: list[int]) -> list[int]:
    """Both constraints at once: the ids in both lists (the tab's and the user's filter)."""
    if not theirs:
        return mine
    if not mine:
        return theirs
    return sorted(set(mine) & set(theirs)) or [NO_ID]


def tab_filter(
    tab: Tab, actor: Actor, base: IncidentFilter, *, now: datetime, hours: int
) -> IncidentFilter:
    """The user's filter narrowed to the tab (a state filter narrows the tab's open states)."""
    groups = sorted(actor.group_ids) or [NO_ID]
    flt = replace(base)
    if tab.key != "all":
        narrowed = [s for s in base.states if s in OPEN]
        flt.states = narrowed or ([NO_STATE] if base.states else sorted(OPEN))
    if tab.key == "mine":
        flt.assignee_ids = _both([actor.user_id or NO_ID], base.assignee_ids)
    elif tab.key == "groups":
        flt.group_ids = _both(groups, base.group_ids)
    elif tab.key == "unassigned":
        flt.unassigned_in_groups = groups
    elif tab.key == "breaching":
        flt.due_before = now + timedelta(hours=hours)
    elif tab.key == "major":
        flt.priorities = _both([1], base.priorities)
    return flt


def count_parts(
    flt: IncidentFilter, sort: str | None = None
) -> list[tuple[IncidentFilter, str | None]]:
    """The tab filter as disjoint filters without OR, each an index range: a capped count of
    an OR of two ranges would scan the whole open-state index instead. Each part comes with
    the order to scan it in: `sort` (the tab's, the order of the index its page reads) where
    that index answers the part, else None."""
    if flt.due_before is not None:
        due = flt.due_before
        base = replace(flt, due_before=None)
        later = Incident.resolve_by.is_(None) | (Incident.resolve_by > due)
        return [
            (replace(base, extra=(*base.extra, Incident.resolve_by <= due)), sort),
            (replace(base, extra=(*base.extra, Incident.respond_by <= due, later)), None),
        ]
    if flt.unassigned_in_groups is not None:
        base = replace(flt, unassigned_in_groups=None)
        free = Incident.assignee_id.is_(None)
        ungrouped = (free, Incident.assignment_group_id.is_(None))
        mine = _both(flt.unassigned_in_groups, base.group_ids)
        return [
            (replace(base, group_ids=mine, extra=(*base.extra, free)), sort),
            (replace(base, extra=(*base.extra, *ungrouped)), sort),
        ]
    return [(flt, sort)]


def tab_counts(session: Session, actor: Actor, *, now: datetime, hours: int) -> dict[str, int]:
    """Each tab's own count (without the user's filters), capped at COUNT_CAP + 1, all in
    one statement."""
    empty = IncidentFilter()
    parts = [
        count_parts(tab_filter(tab, actor, empty, now=now, hours=hours), tab.count_sort or tab.sort)
        for tab in TABS
    ]
    flat = count_incidents_each(session, actor, [p for ps in parts for p in ps], cap=COUNT_CAP)
    counts, at = {}, 0
    for tab, ps in zip(TABS, parts, strict=True):
        counts[tab.key] = min(COUNT_CAP + 1, sum(flat[at : at + len(ps)]))
        at += len(ps)
    return counts


# ---------------------------------------------------------------- names for ids


@dataclass
class Names:
    groups: dict[int, str]
    users: dict[int, str]
    customers: dict[int, str]
    services: dict[int, str]
    cis: dict[int, str]
    categories: dict[int, str]


def _ids(values: Iterable[int | None]) -> list[int]:
    return sorted({v for v in values if v is not None})


def names_for(
    session: Session,
    *,
    groups: Iterable[int | None] = (),
    users: Iterable[int | None] = (),
    customers: Iterable[int | None] = (),
    services: Iterable[int | None] = (),
    cis: Iterable[int | None] = (),
    categories: Iterable[int | None] = (),
) -> Names:
    """Display names of exactly the ids given, in one round trip (a UNION ALL of one small
    select per kind)."""
    wanted: dict[str, tuple[Any, list[int]]] = {
        "groups": (SupportGroup, _ids(groups)),
        "users": (User, _ids(users)),
        "customers": (Customer, _ids(customers)),
        "services": (Service, _ids(services)),
        "cis": (ConfigurationItem, _ids(cis)),
        "categories": (Category, _ids(categories)),
    }
    parts = [
        select(literal(kind), model.id, _label(model)).where(model.id.in_(ids))
        for kind, (model, ids) in wanted.items()
        if ids
    ]
    found: dict[str, dict[int, str]] = {kind: {} for kind in wanted}
    if parts:
        for kind, ident, label in session.execute(union_all(*parts)):
            found[kind][ident] = label
    return Names(**found)


def _label(model: type[Any]) -> Any:
    """What a row is called: a person's full name (their user name when it is empty)."""
    if model is User:
        return func.coalesce(func.nullif(User.full_name, ""), User.username)
    return model.name


@dataclass(frozen=True)
class Option:
    id: int
    label: str
    parent_id: int | None = None  # a subcategory's category, a service's customer


def filter_options(session: Session, actor: Actor) -> dict[str, list[Option]]:
    """The choices of the queue filters and the incident forms: active groups, active staff,
    the customers the actor may see, services, CIs and categories; one round trip, each kind
    in its order (names; staff by user name)."""
    no_parent = literal(None, Integer)
    kinds = (
        select(
            literal("groups"), SupportGroup.id, SupportGroup.name, no_parent, SupportGroup.name
        ).where(SupportGroup.is_active.is_(True)),
        select(literal("staff"), User.id, _label(User), no_parent, User.username).where(
            User.is_active.is_(True), User.role != Role.requester.value
        ),
        select(literal("customers"), Customer.id, Customer.name, no_parent, Customer.name).where(
            Customer.is_active.is_(True)
        ),
        select(literal("services"), Service.id, Service.name, Service.customer_id, Service.name),
        select(
            literal("cis"),
            ConfigurationItem.id,
            ConfigurationItem.name,
            ConfigurationItem.service_id,
            ConfigurationItem.name,
        ),
        select(
            literal("categories"), Category.id, Category.name, Category.parent_id, Category.name
        ),
    )
    combined = union_all(*kinds).subquery()
    kind, ident, label, parent, order = combined.c
    rows = session.execute(select(kind, ident, label, parent).order_by(kind, order, ident))
    options: dict[str, list[Option]] = {
        k: [] for k in ("groups", "staff", "customers", "services", "cis", "categories")
    }
    for k, i, text_, parent_id in rows:
        if k == "customers" and not can_see_customer(actor, i):
            continue
        options[k].append(Option(i, text_, parent_id))
    return options


def search_staff(session: Session, prefix: str, limit: int = 8) -> Sequence[User]:
    """Active agents whose user name or name starts with `prefix` (the @mention list)."""
    pattern = like_escaped(prefix) + "%"
    return session.scalars(
        select(User)
        .where(
            User.is_active.is_(True),
            User.role != Role.requester.value,
            User.username.ilike(pattern, escape="\\") | User.full_name.ilike(pattern, escape="\\"),
        )
        .order_by(User.username)
        .limit(limit)
    ).all()


def search_callers(session: Session, actor: Actor, text: str, limit: int = 10) -> Sequence[User]:
    """Callers an agent may log for: requesters of the customers the agent serves (any
    customer for managers and admins), internal users, matched on name, user name or e-mail."""
    pattern = "%" + like_escaped(text) + "%"
    query = select(User).where(
        User.is_active.is_(True),
        User.username.ilike(pattern, escape="\\")
        | User.full_name.ilike(pattern, escape="\\")
        | User.email.ilike(pattern, escape="\\"),
    )
    if actor.role == Role.agent:
        query = query.where(
            User.customer_id.is_(None) | User.customer_id.in_(sorted(actor.served_customer_ids))
        )
    return session.scalars(query.order_by(User.full_name, User.username).limit(limit)).all()
