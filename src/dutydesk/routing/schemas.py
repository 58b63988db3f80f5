"""Request and response bodies for routing rules, group strategies and service requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from dutydesk.kernel.schemas import Input, Name, Output, Short, Text
from dutydesk.routing.strategies import Strategy

CONDITIONS_DOC = (
    "Each {field, op, value}: fields short_description, description, channel, state, impact, "
    "urgency, priority, customer, service, ci, category, subcategory, caller, "
    "assignment_group, assignee, tags; operators equals, not_equals, in, contains, regex, "
    "gt, lt, gte, lte, is_empty, is_not_empty. References compare ids (numbers) or names."
)
ACTIONS_DOC = (
    "Each {type, value}: set_category, set_subcategory, set_service, set_ci (ids), "
    "set_impact, set_urgency (1-5), assign_group, assign_user (ids), add_tags (list), "
    "notify ({users: [ids], groups: [ids], message}), mark_request (no value)."
)


class RuleCreate(Input):
    name: Name
    description: Text = ""
    match: Literal["all", "any"] = "all"
    conditions: list[Any] = Field(default_factory=list, description=CONDITIONS_DOC)
    actions: list[Any] = Field(description=ACTIONS_DOC)
    is_active: bool = True
    on_create: bool = True
    on_update: bool = False
    stop: bool = Field(False, description="When it fires, no later rule runs.")
    position: int | None = Field(None, ge=0, le=10_000, description="Default: last.")


class RulePatch(Input):
    name: Name | None = None
    description: Text | None = None
    match: Literal["all", "any"] | None = None
    conditions: list[Any] | None = Field(None, description=CONDITIONS_DOC)
    actions: list[Any] | None = Field(None, description=ACTIONS_DOC)
    is_active: bool | None = None
    on_create: bool | None = None
    on_update: bool | None = None
    stop: bool | None = None
    position: int | None = Field(None, ge=0, le=10_000)


class RuleRead(Output):
    id: int
    rule_id: str
    name: str
    description: str
    position: int
    is_active: bool
    match: str
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    on_create: bool
    on_update: bool
    stop: bool
    created_at: datetime
    updated_at: datetime


def present_rule(rule: Any) -> dict[str, Any]:
    """A routing_rule row as the API and the CLI show it (`rule_id` is what histories name)."""
    data = {c: getattr(rule, c) for c in RuleRead.model_fields if c != "rule_id"}
    return RuleRead(rule_id=f"RUL-{rule.id}", **data).model_dump(mode="json")


class RuleOrder(Input):
    ids: list[int] = Field(max_length=10_000, description="Every rule id, in the new order.")


class GroupRoutingWrite(Input):
    strategy: Strategy


class GroupRoutingRead(Output):
    group_id: int
    group: str
    strategy: Strategy
    last_user_id: int | None = None
    available_member_ids: list[int]


class RequestFlag(Input):
    is_service_request: bool
    reason: Short | None = None


class ConvertRequest(Input):
    reason: Short | None = Field(None, description="Why it is a request; told to the requester.")


class RequestActionBody(Input):
    reason: Short | None = None


class RequestRead(Output):
    number: str
    incident_number: str | None = None
    state: str
    short_description: str
    description: str
    caller_id: int | None
    customer_id: int | None
    service_id: int | None
    ci_id: int | None
    category_id: int | None
    subcategory_id: int | None
    priority: int
    assignment_group_id: int | None
    assignee_id: int | None
    opened_at: datetime
    updated_at: datetime
    fulfilled_at: datetime | None
    closed_at: datetime | None
    version: int
    allowed_actions: list[str] = []


class RequestList(Output):
    items: list[RequestRead]
    next_cursor: str | None


class RequestEventRead(Output):
    seq: int
    at: datetime
    actor_name: str
    actor_type: str
    channel: str
    kind: str
    field: str | None
    old: Any
    new: Any
    reason: str | None
    rule_id: str | None
    source_number: str | None
    source_seq: int | None
    source_hash: str | None
