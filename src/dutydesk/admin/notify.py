"""Admin screens of notifications: endpoints (a generic section; the signing secret is shown
once) and the templates (their own page: edit, preview, back to the built-in). Writes go
through `notify.admin`, as the notification API (`notify/api.py`) does."""

from __future__ import annotations

import json

from pydantic import BaseModel
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor
from dutydesk.admin.forms import Field, Row
from dutydesk.admin.people import body_of, when, yes
from dutydesk.admin.sections import Done, Edit, Section
from dutydesk.notify import admin, queries
from dutydesk.notify.schemas import EndpointCreate, EndpointPatch
from dutydesk.notify.templates import EVENTS, REPORT_EVENTS

EVENT_CHOICES = [(e, e.replace("_", " ")) for e in (*EVENTS, *REPORT_EVENTS)]
KINDS = [("webhook", "webhook (signed JSON)"), ("slack", "Slack"), ("teams", "Microsoft Teams")]
SECRET_HINT = "16–200 characters without spaces; leave empty to "


def endpoint_rows(session: Session) -> list[Row]:
    return [
        Row(
            (e.name, e.kind, e.url, ", ".join(json.loads(e.events)) or "none", yes(e.active)),
            href=f"/admin/endpoints/{e.id}",
        )
        for e in queries.list_endpoints(session)
    ]


def _common() -> list[Field]:
    return [
        Field("name", "Name", required=True),
        Field("url", "URL", required=True, hint="The http or https address notifications go to."),
        Field("events", "Events", "checks", EVENT_CHOICES),
    ]


def endpoint_fields(session: Session) -> list[Field]:
    return [
        *_common(),
        Field("kind", "Kind", "select", KINDS),
        Field("secret", "Signing secret", "password", hint=SECRET_HINT + "generate one."),
    ]


def create_endpoint(session: Session, actor: Actor, body: BaseModel) -> Done:
    endpoint, secret = admin.create_endpoint(
        session, actor, **body_of(body, EndpointCreate).model_dump()
    )
    return Done(f"Endpoint {endpoint.name} was added; copy its signing secret now.", secret=secret)


def edit_endpoint(session: Session, endpoint_id: int) -> Edit:
    e = queries.get_endpoint(session, endpoint_id)
    fields = [
        *_common(),
        Field("active", "Active", "checkbox"),
        Field(
            "secret", "New signing secret", "password", hint=SECRET_HINT + "keep the current one."
        ),
    ]
    values: dict[str, object] = {
        "name": e.name,
        "url": e.url,
        "events": json.loads(e.events),
        "active": e.active,
    }
    return Edit(
        heading=f"Endpoint {e.name} (updated {when(e.updated_at)})", fields=fields, values=values
    )


def update_endpoint(session: Session, actor: Actor, endpoint_id: int, body: BaseModel) -> str:
    changes = body_of(body, EndpointPatch).model_dump()
    endpoint = admin.update_endpoint(
        session, actor, queries.get_endpoint(session, endpoint_id), changes
    )
    return f"Endpoint {endpoint.name} was saved."


ENDPOINTS = Section(
    key="endpoints",
    title="Notification endpoints",
    singular="endpoint",
    headers=("Name", "Kind", "URL", "Events", "Active"),
    rows=endpoint_rows,
    create_fields=endpoint_fields,
    create_schema=EndpointCreate,
    create=create_endpoint,
    edit=edit_endpoint,
    edit_schema=EndpointPatch,
    update=update_endpoint,
    hint="Webhooks, Slack and Teams channels that receive incident events.",
)


def template_rows(session: Session) -> list[Row]:
    return [
        Row(
            (
                v.event.replace("_", " "),
                v.channel,
                v.subject,
                "customised" if v.overridden else "built-in",
            ),
            href=f"/admin/templates/{v.event}/{v.channel}",
        )
        for v in queries.list_templates(session)
    ]
