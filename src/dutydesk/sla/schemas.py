"""API shapes of calendars, SLA policies and OLAs."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, Field, field_validator

from dutydesk.kernel.schemas import Input, Name, Output

MAX_TARGET = 366 * 24 * 3600
PendingState = Literal["pending_user", "pending_vendor", "pending_change"]


class CalendarWrite(Input):
    """A calendar's JSON configuration, e.g. ``{"timezone": "Europe/Berlin", "hours":
    {"mon": ["08:00-12:00", "13:00-17:00"], …}, "holidays": {"country": "DE",
    "subdivision": "BY"}, "closed_days": ["2026-12-24"], "open_days": {"2026-12-27":
    ["09:00-13:00"]}}``."""

    name: Name
    config: dict[str, Any]


class CalendarPatch(Input):
    name: Name | None = None
    config: dict[str, Any] | None = None


class CalendarRead(Output):
    id: int
    name: str
    config: dict[str, Any]
    updated_at: datetime

    @field_validator("config", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


class DeadlineQuery(Input):
    start: AwareDatetime
    seconds: int = Field(ge=0, le=5 * MAX_TARGET)


class DeadlineRead(Output):
    start: datetime
    seconds: int
    due_at: datetime


class PolicyCreate(Input):
    name: Name
    customer_id: int | None = None
    service_id: int | None = None
    priority: int | None = Field(None, ge=1, le=9)
    calendar_id: int = 1
    response_seconds: int | None = Field(None, gt=0, le=MAX_TARGET)
    resolution_seconds: int | None = Field(None, gt=0, le=MAX_TARGET)
    warn_percents: list[int] = Field(default=[50, 75], max_length=5)
    pause_states: list[PendingState] = ["pending_user", "pending_vendor"]
    raise_priority_on_breach: bool = Field(
        False, description="A resolution breach raises the priority one step (P3 → P2)."
    )
    active: bool = True


class PolicyPatch(Input):
    name: Name | None = None
    customer_id: int | None = None
    service_id: int | None = None
    priority: int | None = Field(None, ge=1, le=9)
    calendar_id: int | None = None
    response_seconds: int | None = Field(None, gt=0, le=MAX_TARGET)
    resolution_seconds: int | None = Field(None, gt=0, le=MAX_TARGET)
    warn_percents: list[int] | None = Field(None, max_length=5)
    pause_states: list[PendingState] | None = None
    raise_priority_on_breach: bool | None = None
    active: bool | None = None


class PolicyRead(Output):
    id: int
    name: str
    customer_id: int | None
    service_id: int | None
    priority: int | None
    calendar_id: int
    response_seconds: int | None
    resolution_seconds: int | None
    warn_percents: list[int]
    pause_states: list[str]
    raise_priority_on_breach: bool
    active: bool

    @field_validator("warn_percents", "pause_states", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


class OlaCreate(Input):
    group_id: int
    priority: int | None = Field(None, ge=1, le=9)
    calendar_id: int = 1
    resolution_seconds: int = Field(gt=0, le=MAX_TARGET)
    warn_percents: list[int] = Field(default=[50, 75], max_length=5)
    active: bool = True


class OlaPatch(Input):
    priority: int | None = Field(None, ge=1, le=9)
    calendar_id: int | None = None
    resolution_seconds: int | None = Field(None, gt=0, le=MAX_TARGET)
    warn_percents: list[int] | None = Field(None, max_length=5)
    active: bool | None = None


class OlaRead(Output):
    id: int
    group_id: int
    priority: int | None
    calendar_id: int
    resolution_seconds: int
    warn_percents: list[int]
    active: bool

    @field_validator("warn_percents", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value
