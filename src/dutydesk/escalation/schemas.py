"""API shapes of escalation paths, hierarchic levels and an incident's escalations."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from dutydesk.kernel.schemas import Input, Name, Output, Short

MAX_DELAY = 366 * 24 * 3600
MAX_STEPS = 20


class StepWrite(Input):
    level: int = Field(ge=1, le=MAX_STEPS, description="1 for the first group, then 2, 3, …")
    group_id: int
    auto: bool = Field(
        False, description="Escalate to the next step automatically when this group's OLA breaches."
    )


class StepRead(Output):
    level: int
    group_id: int
    auto: bool


class PathCreate(Input):
    """A functional escalation path; category and service left out match anything."""

    name: Name
    category_id: int | None = None
    service_id: int | None = None
    active: bool = True
    steps: list[StepWrite] = Field(min_length=1, max_length=MAX_STEPS)


class PathPatch(Input):
    name: Name | None = None
    category_id: int | None = None
    service_id: int | None = None
    active: bool | None = None
    steps: list[StepWrite] | None = Field(
        None, min_length=1, max_length=MAX_STEPS, description="Replaces every step."
    )


class PathRead(Output):
    id: int
    name: str
    category_id: int | None
    service_id: int | None
    active: bool
    steps: list[StepRead]
    updated_at: datetime


Trigger = Literal["percent", "delay"]
ClockName = Literal["response", "resolution"]


class LevelCreate(Input):
    """A hierarchic escalation level: `percent` of the response or resolution clock, or
    `delay_seconds` of business time on the resolution clock; priority and group left out
    match anything."""

    name: Name
    priority: int | None = Field(None, ge=1, le=9)
    group_id: int | None = None
    trigger: Trigger
    clock: ClockName | None = Field(None, description="For percent: default resolution.")
    percent: int | None = Field(None, ge=1, le=1000)
    delay_seconds: int | None = Field(None, gt=0, le=MAX_DELAY)
    notify_group_manager: bool = True
    notify_incident_managers: bool = False
    notify_user_ids: list[int] = Field(default=[], max_length=50)
    active: bool = True


class LevelPatch(Input):
    name: Name | None = None
    priority: int | None = Field(None, ge=1, le=9)
    group_id: int | None = None
    trigger: Trigger | None = None
    clock: ClockName | None = None
    percent: int | None = Field(None, ge=1, le=1000)
    delay_seconds: int | None = Field(None, gt=0, le=MAX_DELAY)
    notify_group_manager: bool | None = None
    notify_incident_managers: bool | None = None
    notify_user_ids: list[int] | None = Field(None, max_length=50)
    active: bool | None = None


class LevelRead(Output):
    id: int
    name: str
    priority: int | None
    group_id: int | None
    trigger: str
    clock: str | None
    percent: int | None
    delay_seconds: int | None
    notify_group_manager: bool
    notify_incident_managers: bool
    notify_user_ids: list[int]
    active: bool
    updated_at: datetime


class EscalationCreate(Input):
    """Escalate on demand: `functional` moves the incident to its path's next step;
    `hierarchic` tells management (a level's people, or the group manager and the
    incident managers)."""

    kind: Literal["functional", "hierarchic"]
    reason: Short | None = None
    level_id: int | None = Field(None, description="For hierarchic: the level to fire.")


class EscalationRead(Output):
    id: int
    kind: str
    trigger: str
    rule_id: str
    path_id: int | None
    step: int | None
    level_id: int | None
    from_group_id: int | None
    to_group_id: int | None
    notified_user_ids: list[int]
    reason: str | None
    actor_id: int | None
    actor_name: str
    at: datetime
    late: bool
