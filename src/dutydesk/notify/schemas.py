"""API shapes of notification endpoints, templates, the outbox and preferences."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from dutydesk.kernel.schemas import Input, Name, Output, Text

EndpointName = Annotated[Name, Field(max_length=80)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
Event = Literal[
    "assigned",
    "public_reply",
    "state_changed",
    "sla_warning",
    "sla_breached",
    "escalated",
    "resolved",
    "closed",
    "mentioned",
]
Events = Annotated[
    list[Event], Field(max_length=20, description="Events to send; [] = every event")
]
Secret = Annotated[str, StringConstraints(min_length=16, max_length=200)]


class EndpointCreate(Input):
    name: EndpointName
    kind: Literal["webhook", "slack", "teams"] = "webhook"
    url: Url = Field(description="http or https URL the notifications are POSTed to")
    events: Events = []
    secret: Secret | None = Field(None, description="HMAC key; generated when not given")


class EndpointPatch(Input):
    name: EndpointName | None = None
    url: Url | None = None
    events: Events | None = None
    active: bool | None = None
    secret: Secret | None = Field(None, description="A new HMAC key")


class EndpointRead(Output):
    id: int
    name: str
    kind: str
    url: str
    events: list[str]
    active: bool
    has_secret: bool = False
    created_at: datetime
    updated_at: datetime

    @field_validator("events", mode="before")
    @classmethod
    def _decode(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value


class EndpointCreated(EndpointRead):
    secret: str = Field(description="The signing secret; shown only in this response")


class TemplateWrite(Input):
    subject: Text
    body: Text


class TemplatePreview(Input):
    subject: Text | None = Field(None, description="Preview this instead of the current one")
    body: Text | None = None


class TemplateRead(Output):
    event: str
    channel: str
    subject: str
    body: str
    overridden: bool
    updated_at: datetime | None


class PreviewRead(Output):
    event: str
    channel: str
    subject: str
    body: str


class NotificationRead(Output):
    id: int
    incident_id: int | None
    incident_number: str | None = None
    event: str
    channel: str
    recipient: str
    recipient_user_id: int | None
    endpoint_id: int | None
    subject: str
    body: str
    message_id: str
    in_reply_to: str | None
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    bounced_at: datetime | None = None


class NotificationList(Output):
    items: list[NotificationRead]
    next_cursor: str | None


class PreferenceWrite(Input):
    event: Event | Literal["weekly_report"]  # the report is for staff and off by default
    channel: Literal["email"]
    enabled: bool


class PreferenceRead(Output):
    event: str
    channel: str
    enabled: bool
    is_default: bool
