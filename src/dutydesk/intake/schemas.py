"""Request and response bodies of the monitoring intake API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from dutydesk.kernel.schemas import Input, Name, Output, Short

Key = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Kind = Literal["generic", "alertmanager", "pagerduty"]
Severity = Literal["critical", "error", "warning", "info"]
Levels = Annotated[list[int], Field(min_length=2, max_length=2)]


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("needs a time zone (Z or an offset)")
    return value


class EventLink(Input):
    href: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    text: Annotated[str, StringConstraints(max_length=200)] | None = None


class EventCreate(Input):
    """One monitoring event (the generic format)."""

    dedup_key: Key
    status: Literal["firing", "trigger", "acknowledged", "resolved"] = "firing"
    severity: Severity = "error"
    summary: Annotated[str, StringConstraints(max_length=1024)] | None = Field(
        None, validate_default=True
    )
    source: Annotated[str, StringConstraints(max_length=255)] = ""
    service: Annotated[str, StringConstraints(min_length=1, max_length=120)] | None = None
    ci: Annotated[str, StringConstraints(min_length=1, max_length=120)] | None = None
    labels: dict[
        Annotated[str, StringConstraints(max_length=100)],
        Annotated[str, StringConstraints(max_length=1000)],
    ] = Field(default_factory=dict, max_length=64)
    links: list[EventLink] = Field(default_factory=list, max_length=10)
    occurred_at: datetime | None = None

    _check_time = field_validator("occurred_at")(_aware)

    @field_validator("summary")
    @classmethod
    def _summary_to_open(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("status") in ("firing", "trigger") and not (value and value.strip()):
            raise ValueError("a firing event needs a summary")
        return value


class EventResult(Output):
    dedup_key: str
    outcome: str
    alert_id: int | None
    incident: str | None  # the incident number


class EventBatchResult(Output):
    results: list[EventResult]


class AlertRead(Output):
    id: int
    integration: str
    dedup_key: str
    status: str
    severity: str
    summary: str
    source: str
    service: str | None
    ci: str | None
    service_id: int | None
    ci_id: int | None
    labels: dict[str, str]
    links: list[dict[str, str]]
    occurrences: int
    first_seen_at: datetime
    last_seen_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    flapping: bool
    suppressed_by_id: int | None
    incident: str | None


class AlertList(Output):
    items: list[AlertRead]
    next_cursor: str | None
    total: int | None = None


class IntegrationCreate(Input):
    name: Name
    kind: Kind = "generic"
    assignment_group_id: int | None = None
    service_id: int | None = None
    severity_map: dict[Severity, Levels] | None = None
    auto_resolve: bool = True
    correlation_seconds: int = Field(3600, ge=0, le=7 * 86400)
    flap_changes: int = Field(6, ge=2, le=1000)
    flap_window_seconds: int = Field(3600, ge=60, le=7 * 86400)
    heartbeat_seconds: int | None = Field(None, ge=60, le=7 * 86400)


class IntegrationPatch(Input):
    name: Name | None = None
    active: bool | None = None
    assignment_group_id: int | None = None
    service_id: int | None = None
    severity_map: dict[Severity, Levels] | None = None
    auto_resolve: bool | None = None
    correlation_seconds: int | None = Field(None, ge=0, le=7 * 86400)
    flap_changes: int | None = Field(None, ge=2, le=1000)
    flap_window_seconds: int | None = Field(None, ge=60, le=7 * 86400)
    heartbeat_seconds: int | None = Field(None, ge=60, le=7 * 86400)


class IntegrationRead(Output):
    id: int
    name: str
    kind: str
    active: bool
    token_hint: str
    revoked_at: datetime | None
    user_id: int
    assignment_group_id: int | None
    service_id: int | None
    severity_map: dict[str, list[int]]
    auto_resolve: bool
    correlation_seconds: int
    flap_changes: int
    flap_window_seconds: int
    heartbeat_seconds: int | None
    last_event_at: datetime | None
    heartbeat_due_at: datetime | None
    created_at: datetime


class IntegrationCreated(IntegrationRead):
    token: str = Field(description="Shown once; only its hash is kept.")


class MaintenanceWindowCreate(Input):
    name: Name
    starts_at: datetime
    ends_at: datetime
    service_id: int | None = None
    ci_id: int | None = Field(None, validate_default=True)
    integration_id: int | None = None
    reason: Short = ""

    _check_times = field_validator("starts_at", "ends_at")(_aware)

    @field_validator("ends_at")
    @classmethod
    def _after_start(cls, value: datetime, info: ValidationInfo) -> datetime:
        starts = info.data.get("starts_at")
        aware = value.tzinfo is not None and starts is not None and starts.tzinfo is not None
        if aware and starts is not None and value <= starts:
            raise ValueError("must be after starts_at")
        return value

    @field_validator("ci_id")
    @classmethod
    def _scoped(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is None and info.data.get("service_id") is None:
            raise ValueError("name a service_id or a ci_id (or both)")
        return value


class MaintenanceWindowPatch(Input):
    name: Name | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    reason: Short | None = None

    _check_times = field_validator("starts_at", "ends_at")(_aware)


class MaintenanceWindowRead(Output):
    id: int
    name: str
    starts_at: datetime
    ends_at: datetime
    service_id: int | None
    ci_id: int | None
    integration_id: int | None
    reason: str
    created_by: str
    created_at: datetime
    # When the worker releases the alerts still firing at the end (null once released).
    release_at: datetime | None = None
