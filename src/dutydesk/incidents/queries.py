"""Reads for incidents; every fetch is filtered by the access policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, text
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from dutydesk.access.policy import Actor, Role, incident_visibility
from dutydesk.incidents.lifecycle import OPEN, Status
from dutydesk.kernel.errors import InvalidInput, NotFound
from dutydesk.kernel.pagination import after_clause, decode_cursor, encode_cursor
from dutydesk.models import Attachment, Comment, Incident, IncidentEvent, IncidentLink
from dutydesk.models.incident import OPEN_STATES_SQL

INTERNAL_EVENT_KINDS = frozenset({"work_note", "internal_attachment"})
SORTABLE: dict[str, InstrumentedAttribute[Any]] = {
    "priority": Incident.priority,
    "opened_at": Incident.opened_at,
    "updated_at": Incident.updated_at,
    "number": Incident.id,
    "state": Incident.state,
    "impact": Incident.impact,
    "urgency": Incident.urgency,
    # Only incidents with a running resolution clock have one: sorting by it lists only those.
    "resolve_by": Incident.resolve_by,
}


def get_incident_for(
    session: Session, actor: Actor, number: str, *, for_update: bool = False
) -> Incident:
    """The incident if the actor may see it; NotFound otherwise (never Forbidden)."""
    query = select(Incident).where(Incident.number == number, incident_visibility(actor))
    if for_update:
        query = query.with_for_update()
    incident = session.scalar(query)
    if incident is None:
        raise NotFound(f"incident {number} not found")
    return incident


def get_incident_by_number(session: Session, number: str) -> Incident | None:
    return session.scalar(select(Incident).where(Incident.number == number))


@dataclass
class IncidentFilter:
    states: list[str] = field(default_factory=list)
    priorities: list[int] = field(default_factory=list)
    group_ids: list[int] = field(default_factory=list)
    assignee_ids: list[int] = field(default_factory=list)
    customer_ids: list[int] = field(default_factory=list)
    service_ids: list[int] = field(default_factory=list)
    category_ids: list[int] = field(default_factory=list)
    caller_ids: list[int] = field(default_factory=list)
    text: str | None = None
    opened_after: datetime | None = None
    opened_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    # Open work nobody holds: no assignee, in these groups or in no group yet (of those the
    # actor may see: for an agent, internal ones and those of the customers they serve).
    unassigned_in_groups: list[int] | None = None
    # Respond or resolve due before this instant (or already breached).
    due_before: datetime | None = None
    # More conditions, ANDed (the workspace's tab counts split an OR into index ranges).
    extra: tuple[ColumnElement[bool], ...] = ()


def parse_states(raw: str | None) -> list[str]:
    """'open' stands for every open state; otherwise a comma-separated list of states."""
    if not raw:
        return []
    states: list[str] = []
    for part in (p.strip() for p in raw.split(",") if p.strip()):
        if part == "open":
            states.extend(sorted(OPEN))
        elif part in Status.__members__:
            states.append(part)
        else:
            raise InvalidInput(
                f"unknown state {part!r}",
                errors=[{"field": "state", "msg": f"use 'open' or one of {', '.join(Status)}"}],
            )
    return states


def parse_sort(raw: str | None) -> list[tuple[InstrumentedAttribute[Any], bool]]:
    columns: list[tuple[InstrumentedAttribute[Any], bool]] = []
    for part in (p.strip() for p in (raw or "-opened_at").split(",") if p.strip()):
        desc = part.startswith("-")
        name = part.lstrip("-+")
        if name not in SORTABLE:
            raise InvalidInput(
                f"cannot sort by {name!r}",
                errors=[
                    {"field": "sort", "msg": f"use {', '.join(SORTABLE)} (prefix - for descending)"}
                ],
            )
        columns.append((SORTABLE[name], desc))
    if not any(col is Incident.id for col, _ in columns):
        columns.append((Incident.id, columns[-1][1] if columns else True))
    return columns


def visible_anyway(actor: Actor, flt: IncidentFilter) -> bool:
    """Whether the filter alone admits only incidents the agent may see (their own groups'
    or their own work). Then the visibility OR can go, and with it what keeps the planners
    from answering "my groups" or "my work" from the queue indexes alone."""
    if actor.role != Role.agent:
        return False
    if flt.group_ids and set(flt.group_ids) <= actor.group_ids:
        return True
    return actor.user_id is not None and set(flt.assignee_ids) == {actor.user_id}


def _filtered(actor: Actor, flt: IncidentFilter) -> Select[Incident]:
    query = select(Incident)
    if not visible_anyway(actor, flt):
        query = query.where(incident_visibility(actor))
    if set(flt.states) == OPEN:
        # The partial indexes' own predicate, verbatim: SQLite uses a partial index only
        # when the query repeats its WHERE term literally (bound parameters never match).
        query = query.where(text(OPEN_STATES_SQL))
    elif flt.states:
        query = query.where(Incident.state.in_(flt.states))
    for column, values in (
        (Incident.priority, flt.priorities),
        (Incident.assignment_group_id, flt.group_ids),
        (Incident.assignee_id, flt.assignee_ids),
        (Incident.customer_id, flt.customer_ids),
        (Incident.service_id, flt.service_ids),
        (Incident.caller_id, flt.caller_ids),
    ):
        if values:
            query = query.where(column.in_(values))
    if flt.category_ids:
        query = query.where(
            Incident.category_id.in_(flt.category_ids)
            | Incident.subcategory_id.in_(flt.category_ids)
        )
    if flt.text:
        pattern = "%" + like_escaped(flt.text) + "%"
        query = query.where(
            Incident.short_description.ilike(pattern, escape="\\")
            | (Incident.number == flt.text.strip().upper())
        )
    if flt.unassigned_in_groups is not None:
        query = query.where(
            Incident.assignee_id.is_(None),
            Incident.assignment_group_id.in_(flt.unassigned_in_groups)
            | Incident.assignment_group_id.is_(None),
        )
    if flt.due_before is not None:
        query = query.where(
            (Incident.respond_by <= flt.due_before) | (Incident.resolve_by <= flt.due_before)
        )
    if flt.extra:
        query = query.where(*flt.extra)
    if flt.opened_after:
        query = query.where(Incident.opened_at >= flt.opened_after)
    if flt.opened_before:
        query = query.where(Incident.opened_at < flt.opened_before)
    if flt.updated_after:
        query = query.where(Incident.updated_at >= flt.updated_after)
    if flt.updated_before:
        query = query.where(Incident.updated_at < flt.updated_before)
    return query


def like_escaped(text: str) -> str:
    """`text` for a LIKE pattern with escape character backslash: its own % and _ literal."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass
class Page:
    items: Sequence[Incident]
    next_cursor: str | None
    total: int | None


def list_incidents(
    session: Session,
    actor: Actor,
    flt: IncidentFilter,
    *,
    sort: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    count: bool = False,
) -> Page:
    columns = parse_sort(sort)
    query = _filtered(actor, flt)
    total = None
    if count:
        total = session.scalar(select(func.count()).select_from(query.subquery()))
    if any(col is Incident.resolve_by for col, _ in columns):
        query = query.where(Incident.resolve_by.is_not(None))  # keyset needs non-NULL keys
    if cursor:
        query = query.where(after_clause(columns, decode_cursor(cursor, columns)))
    order = [col.desc() if desc else col.asc() for col, desc in columns]
    rows = session.scalars(query.order_by(*order).limit(limit + 1)).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([getattr(last, col.key) for col, _ in columns])
    return Page(rows, next_cursor, total)


def count_incidents_each(
    session: Session,
    actor: Actor,
    parts: Sequence[tuple[IncidentFilter, str | None]],
    *,
    cap: int,
) -> list[int]:
    """How many incidents match each filter, counting at most `cap + 1` (a queue tab shows
    "1,000+" instead of scanning a million rows: the LIMIT stops the index scan early), all
    in one statement with one scalar subquery per filter: one round trip for the tabs.
    Each filter comes with a list sort or None: the order of the index its scan should
    follow, so that the scan stops at the cap (unordered, PostgreSQL prefers a bitmap or
    sequential scan that reads every candidate first)."""
    if not parts:
        return []
    counts = []
    for flt, sort in parts:
        capped = _filtered(actor, flt).with_only_columns(Incident.id).limit(cap + 1)
        if sort is not None:
            order = (col.desc() if desc else col.asc() for col, desc in parse_sort(sort))
            capped = capped.order_by(*order)
        counts.append(select(func.count()).select_from(capped.subquery()).scalar_subquery())
    return [int(value or 0) for value in session.execute(select(*counts)).one()]


def list_comments(session: Session, actor: Actor, incident: Incident) -> Sequence[Comment]:
    query = select(Comment).where(Comment.incident_id == incident.id).order_by(Comment.id)
    if not actor.is_staff:
        query = query.where(Comment.visibility == "public")
    return session.scalars(query).all()


def list_events(session: Session, actor: Actor, incident: Incident) -> Sequence[IncidentEvent]:
    query = (
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident.id)
        .order_by(IncidentEvent.seq)
    )
    if not actor.is_staff:
        query = query.where(IncidentEvent.kind.not_in(sorted(INTERNAL_EVENT_KINDS)))
    return session.scalars(query).all()


def list_attachments(session: Session, actor: Actor, incident: Incident) -> Sequence[Attachment]:
    query = select(Attachment).where(Attachment.incident_id == incident.id).order_by(Attachment.id)
    if not actor.is_staff:
        query = query.where(Attachment.visibility == "public")
    return session.scalars(query).all()


def get_attachment_for(
    session: Session, actor: Actor, incident: Incident, attachment_id: int
) -> Attachment:
    """Scoped to its incident: an attachment id of another incident is NotFound."""
    attachment = session.scalar(
        select(Attachment).where(
            Attachment.id == attachment_id, Attachment.incident_id == incident.id
        )
    )
    if attachment is None or (not actor.is_staff and attachment.visibility != "public"):
        raise NotFound(f"attachment {attachment_id} not found")
    return attachment


def get_attachment_file_for(
    session: Session, actor: Actor, number: str, attachment_id: int
) -> tuple[str, str, str]:
    """(storage name, file name, content type) of an attachment the actor may download."""
    incident = get_incident_for(session, actor, number)
    a = get_attachment_for(session, actor, incident, attachment_id)
    return a.storage_name, a.filename, a.content_type


@dataclass(frozen=True)
class LinkView:
    number: str
    kind: str
    direction: str
    short_description: str
    state: str


_OTHER = aliased(Incident, name="other")  # built once: an alias makes a proxy per column


def list_links(session: Session, actor: Actor, incident: Incident) -> list[LinkView]:
    """Links both ways, showing only the other incidents the actor may see."""
    other = _OTHER
    views: list[LinkView] = []
    for direction, mine, theirs in (
        ("outgoing", IncidentLink.source_id, IncidentLink.target_id),
        ("incoming", IncidentLink.target_id, IncidentLink.source_id),
    ):
        rows = session.execute(
            select(IncidentLink.kind, other.number, other.short_description, other.state)
            .join(other, other.id == theirs)
            .where(mine == incident.id, incident_visibility(actor, other))
            .order_by(IncidentLink.id)
        ).all()
        views.extend(LinkView(r[1], r[0], direction, r[2], r[3]) for r in rows)
    return views
