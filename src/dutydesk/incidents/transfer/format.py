"""The incident line format: header, record models, natural keys and JSON encoding."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.incidents.lifecycle import Status
from dutydesk.models import (
    Category,
    ConfigurationItem,
    Customer,
    Service,
    SlaCalendar,
    SupportGroup,
    User,
)

FORMAT = "dutydesk-incidents"
VERSION = 1
HEADER: dict[str, Any] = {"format": FORMAT, "version": VERSION}


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _known_state(value: str) -> str:
    if value not in {status.value for status in Status}:
        raise ValueError(f"unknown state {value!r}")
    return value


Stamp = Annotated[
    AwareDatetime, AfterValidator(_utc), PlainSerializer(_iso, return_type=str, when_used="json")
]
Number = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}[0-9]{7,12}$")]
State = Annotated[str, AfterValidator(_known_state)]
Visibility = Annotated[str, StringConstraints(pattern=r"^(work_note|public)$")]
Count = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]
S20 = Annotated[str, StringConstraints(max_length=20)]
S40 = Annotated[str, StringConstraints(max_length=40)]
S60 = Annotated[str, StringConstraints(max_length=60)]
S64 = Annotated[str, StringConstraints(max_length=64)]
S120 = Annotated[str, StringConstraints(max_length=120)]
S200 = Annotated[str, StringConstraints(max_length=200)]
S255 = Annotated[str, StringConstraints(max_length=255)]
S500 = Annotated[str, StringConstraints(max_length=500)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class EventRecord(_Record):
    """Every IncidentEvent column but the ids, verbatim: the hash chain must still verify."""

    seq: Positive
    at: Stamp
    actor_id: int | None
    actor_name: S120
    actor_type: S20
    channel: S20
    kind: S40
    field: S60 | None
    old: str | None
    new: str | None
    reason: str | None
    rule_id: S40 | None
    request_id: S64 | None
    imported: bool
    prev_hash: S64
    hash: S64


class CommentRecord(_Record):
    author: str | None
    visibility: Visibility
    body: str
    created_at: Stamp


class AttachmentRecord(_Record):
    filename: S255
    content_type: S120
    size: Count
    sha256: S64
    visibility: Visibility
    uploaded_by: str | None
    created_at: Stamp
    data: str  # the file's bytes, base64


class LinkRecord(_Record):
    """An outgoing link, by the other incident's number."""

    number: Number
    kind: S20
    created_at: Stamp
    created_by: str | None


class ClockRecord(_Record):
    """An SLA clock, every column; the group and calendar by name."""

    kind: S20
    group: str | None
    policy_name: S120
    calendar: str
    target_seconds: Count
    warn_percents: list[int]
    started_at: Stamp
    elapsed_before: float
    segment_start: Stamp | None
    due_at: Stamp | None
    next_check_at: Stamp | None
    warned_percent: Count
    breached_at: Stamp | None
    stopped_at: Stamp | None
    stop_reason: S20 | None


class EscalationRecord(_Record):
    """An escalation of the incident, every column; groups and people by name. Path and level
    ids are this installation's (rule ids name them too)."""

    kind: S20
    trigger: S20
    rule_id: S40
    path_id: int | None
    step: int | None
    level_id: int | None
    from_group: str | None
    to_group: str | None
    notified: list[str]
    reason: str | None
    actor: str | None
    actor_name: S120
    at: Stamp
    late: bool


class IncidentRecord(_Record):
    """One line: every Incident column, references by natural key, and what hangs off it."""

    number: Number
    short_description: S200
    description: str
    channel: S20
    caller: str | None
    opened_by: str | None
    customer: str | None
    service: str | None
    ci: str | None
    category: str | None
    subcategory: str | None
    impact: int
    urgency: int
    priority: int
    assignment_group: str | None
    assignee: str | None
    state: State
    pending_reason: S500 | None
    escalation_level: int
    resolution_code: S40 | None
    resolution_notes: str | None
    is_workaround: bool | None
    cancel_reason: S500 | None
    reopen_count: Count
    reassignment_count: Count
    opened_at: Stamp
    acknowledged_at: Stamp | None
    resolved_at: Stamp | None
    closed_at: Stamp | None
    cancelled_at: Stamp | None
    updated_at: Stamp
    version: Positive
    history_count: Count
    history_head: S64
    respond_by: Stamp | None = None
    resolve_by: Stamp | None = None
    auto_close_at: Stamp | None = None
    confirm_nonce: S64 | None = None
    csat_rating: int | None = None
    csat_comment: str | None = None
    csat_at: Stamp | None = None
    closure_ticks: list[str] | None = None
    escalation_check_at: Stamp | None = None
    escalation_levels_fired: list[int] | None = None
    tags: list[str] | None = None  # routing
    is_service_request: bool = False  # routing
    source_made_sla: bool | None = None  # imported history: the source's own SLA figure
    events: list[EventRecord]
    comments: list[CommentRecord]
    attachments: list[AttachmentRecord]
    links: list[LinkRecord]
    clocks: list[ClockRecord] = []
    escalations: list[EscalationRecord] = []


NESTED = frozenset({"events", "comments", "attachments", "links", "clocks", "escalations"})
# Record field -> the kind of reference data it names; the column is the field + "_id".
REFERENCES = {
    "caller": "users",
    "opened_by": "users",
    "customer": "customers",
    "service": "services",
    "ci": "cis",
    "category": "categories",
    "subcategory": "categories",
    "assignment_group": "groups",
    "assignee": "users",
}


def _line(data: dict[str, Any]) -> str:
    # ASCII only: the file survives any terminal encoding and str.splitlines().
    return json.dumps(data, ensure_ascii=True, separators=(",", ":")) + "\n"


# ---------------------------------------------------------------- natural keys


class _Names:
    """One kind of reference data both ways: id to natural key and back."""

    def __init__(self, kind: str, names: dict[int, str]) -> None:
        self.kind = kind
        self._names = names
        self._ids: dict[str, int | None] = {}
        for id_, name in names.items():
            self._ids[name] = None if name in self._ids else id_  # None: ambiguous

    def name(self, id_: int | None) -> str | None:
        if id_ is None:
            return None
        try:
            return self._names[id_]
        except KeyError:
            raise LookupError(f"{self.kind} {id_} appeared during the export") from None

    def id(self, name: str | None, where: str, problems: list[str]) -> int | None:
        if name is None:
            return None
        if name not in self._ids:
            problems.append(f"{where}: unknown {self.kind} {name!r}")
            return None
        found = self._ids[name]
        if found is None:
            problems.append(f"{where}: {self.kind} {name!r} is ambiguous")
        return found


@dataclass(frozen=True)
class _Reference:
    users: _Names
    groups: _Names
    customers: _Names
    services: _Names
    cis: _Names
    categories: _Names
    calendars: _Names

    @classmethod
    def load(cls, session: Session) -> _Reference:
        def names(id_col: Any, name_col: Any) -> dict[int, str]:
            return {id_: name for id_, name in session.execute(select(id_col, name_col))}

        tree = session.execute(select(Category.id, Category.name, Category.parent_id))
        return cls(
            users=_Names("user", names(User.id, User.username)),
            groups=_Names("support group", names(SupportGroup.id, SupportGroup.name)),
            customers=_Names("customer", names(Customer.id, Customer.name)),
            services=_Names("service", names(Service.id, Service.name)),
            cis=_Names("configuration item", names(ConfigurationItem.id, ConfigurationItem.name)),
            categories=_Names("category", _category_paths(tree.all())),
            calendars=_Names("calendar", names(SlaCalendar.id, SlaCalendar.name)),
        )

    def of(self, kind: str) -> _Names:
        names: _Names = getattr(self, kind)
        return names


def _category_paths(rows: Sequence[tuple[int, str, int | None]]) -> dict[int, str]:
    """Each category's path: "Parent/Child", or "Parent" at the top."""
    nodes = {id_: (name, parent) for id_, name, parent in rows}
    paths: dict[int, str] = {}
    for id_ in nodes:
        parts: list[str] = []
        seen: set[int] = set()
        current: int | None = id_
        while current is not None and current in nodes and current not in seen:
            seen.add(current)
            name, current = nodes[current]
            parts.append(name)
        paths[id_] = "/".join(reversed(parts))
    return paths
