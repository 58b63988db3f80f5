"""API shapes of incidents, comments, attachments, links and history events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from dutydesk.escalation.schemas import EscalationRead
from dutydesk.incidents.lifecycle import Status
from dutydesk.kernel.schemas import Input, Line, Output, Short, Text


class Channel(StrEnum):
    portal = "portal"
    phone = "phone"
    walk_in = "walk_in"
    email = "email"
    api = "api"
    monitoring = "monitoring"
    observation = "observation"
    chat = "chat"


Level = int  # validated against the configured matrix in the service


Code = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_\- ]+$")]
Number = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}[0-9]{7,12}$")]


class IncidentCreate(Input):
    short_description: Line
    description: Text = ""
    channel: Channel | None = None
    caller_id: int | None = None
    customer_id: int | None = None
    service_id: int | None = None
    ci_id: int | None = None
    category_id: int | None = None
    subcategory_id: int | None = None
    impact: Level | None = Field(None, ge=1, le=5)
    urgency: Level | None = Field(None, ge=1, le=5)
    assignment_group_id: int | None = None
    assignee_id: int | None = None


class IncidentPatch(Input):
    short_description: Line | None = None
    description: Text | None = None
    caller_id: int | None = None
    customer_id: int | None = None
    service_id: int | None = None
    ci_id: int | None = None
    category_id: int | None = None
    subcategory_id: int | None = None
    impact: Level | None = Field(None, ge=1, le=5)
    urgency: Level | None = Field(None, ge=1, le=5)
    reason: Short | None = Field(None, description="Why; kept in the history with the change.")


class ActionRequest(Input):
    group_id: int | None = None
    assignee_id: int | None = None
    target: Status | None = Field(None, description="For pend: the pending state to enter.")
    reason: Short | None = None
    resolution_code: Code | None = None
    resolution_notes: Text | None = None
    is_workaround: bool | None = None
    comment: Text | None = None
    checklist: list[Code] | None = Field(
        None, description="For resolve and close: the manual closure-checklist items done."
    )


class ClockRead(Output):
    """One SLA clock of an incident, as of the response."""

    kind: Literal["response", "resolution", "ola"]
    group_id: int | None
    policy: str
    calendar_id: int
    state: Literal["running", "paused", "warning", "breached", "met", "cancelled"]
    target_seconds: int
    elapsed_seconds: float
    remaining_seconds: float
    percent: float
    due_at: datetime | None
    started_at: datetime
    stopped_at: datetime | None
    breached_at: datetime | None
    warned_percent: int


class IncidentRead(Output):
    number: str
    state: Status
    short_description: str
    description: str
    channel: str
    caller_id: int | None
    opened_by_id: int | None
    customer_id: int | None
    service_id: int | None
    ci_id: int | None
    category_id: int | None
    subcategory_id: int | None
    impact: int
    urgency: int
    priority: int
    assignment_group_id: int | None
    assignee_id: int | None
    escalation_level: int
    pending_reason: str | None
    resolution_code: str | None
    resolution_notes: str | None
    is_workaround: bool | None
    cancel_reason: str | None
    reopen_count: int
    reassignment_count: int
    opened_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    cancelled_at: datetime | None
    updated_at: datetime
    respond_by: datetime | None = None
    resolve_by: datetime | None = None
    csat_rating: int | None = None
    csat_comment: str | None = None
    csat_at: datetime | None = None
    auto_close_at: datetime | None = None
    closure_ticks: list[str] | None = None
    tags: list[str] | None = None  # added by routing rules
    is_service_request: bool = False  # flagged by a rule or an agent (routing)
    version: int
    allowed_actions: list[str] = []
    sla: list[ClockRead] | None = None  # single-incident responses only
    escalations: list[EscalationRead] | None = None  # single-incident responses, staff only


class IncidentList(Output):
    items: list[IncidentRead]
    next_cursor: str | None
    total: int | None = None


class CommentCreate(Input):
    body: Text

    visibility: Literal["work_note", "public"] = "public"


class CommentRead(Output):
    id: int
    visibility: str
    body: str
    author_id: int | None
    created_at: datetime


class AttachmentRead(Output):
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    visibility: str
    uploaded_by_id: int | None
    created_at: datetime


class LinkCreate(Input):
    number: Number
    kind: Literal["related", "duplicate_of", "caused_by"] = "related"


class LinkRead(Output):
    number: str
    kind: str
    direction: Literal["outgoing", "incoming"]
    short_description: str
    state: str


class EventRead(Output):
    seq: int
    at: datetime
    actor_id: int | None
    actor_name: str
    actor_type: str
    channel: str
    kind: str
    field: str | None
    old: Any
    new: Any
    reason: str | None
    rule_id: str | None
    request_id: str | None
    imported: bool
    hash: str


class PriorityMatrixRead(Output):
    levels: int
    cells: list[list[int]]
    labels: dict[str, str]


class PriorityMatrixWrite(Input):
    cells: list[list[int]] = Field(
        description="rows = impact 1..N (1 highest), columns = urgency 1..N; values P1..P5"
    )


class ChecklistRead(Output):
    required: list[str]
    available: list[str]


class ChecklistWrite(Input):
    required: list[str]


# ----------------------------------------------------------------- closure and confirmation


class ClosureCheckRead(Output):
    id: int
    key: str
    label: str
    kind: Literal["field", "manual"]
    field: str | None
    position: int
    is_active: bool


class ClosureCheckWrite(Input):
    key: Code
    label: Line
    kind: Literal["field", "manual"]
    field: str | None = Field(None, description="For a field item: category, service, ci, …")
    position: int = Field(0, ge=0, le=10_000)
    is_active: bool = True


class ClosureCheckPatch(Input):
    label: Line | None = None
    kind: Literal["field", "manual"] | None = None
    field: str | None = None
    position: int | None = Field(None, ge=0, le=10_000)
    is_active: bool | None = None


class ChecklistItemRead(Output):
    key: str
    label: str
    kind: str
    field: str | None
    done: bool


class SurveyAnswer(Input):
    rating: int = Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy)")
    comment: Annotated[str, StringConstraints(max_length=2000)] | None = None


class LinkConfirmation(Input):
    number: Number
    token: Annotated[str, StringConstraints(min_length=10, max_length=1000)]
    answer: Literal["confirm", "reject"]
    reason: Short | None = Field(None, description="Required to reject: what still does not work.")


class LinkSurvey(SurveyAnswer):
    number: Number
    token: Annotated[str, StringConstraints(min_length=10, max_length=1000)]
