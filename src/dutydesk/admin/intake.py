"""Admin sections of intake: monitoring integrations (the token is shown once; revoke and
rotate) and maintenance windows. Writes go through `intake.admin`, as `intake/api.py` does."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor
from dutydesk.admin.forms import Action, Field, Row, input_time, options
from dutydesk.admin.people import body_of, group_choices, when, yes
from dutydesk.admin.sections import Done, Edit, Section
from dutydesk.admin.sla import minutes
from dutydesk.catalog import queries as catalog
from dutydesk.intake import admin, queries
from dutydesk.intake.schemas import (
    IntegrationCreate,
    IntegrationPatch,
    MaintenanceWindowCreate,
    MaintenanceWindowPatch,
)

KINDS = [
    ("generic", "generic JSON"),
    ("alertmanager", "Prometheus Alertmanager"),
    ("pagerduty", "PagerDuty"),
]


def service_choices(session: Session, empty: str = "None") -> list[tuple[str, str]]:
    return options([(s.id, s.name) for s in catalog.list_services(session)], empty=empty)


# ---------------------------------------------------------------- integrations


def integration_rows(session: Session) -> list[Row]:
    rows = []
    for i in queries.list_integrations(session):
        base = f"/admin/integrations/{i.id}"
        actions = [
            Action(
                "New token",
                f"{base}/rotate",
                confirm=f"Replace the token of {i.name}? The old one stops working.",
            )
        ]
        if i.revoked_at is None:
            revoke = Action(
                "Revoke token",
                f"{base}/revoke",
                confirm=f"Revoke the token of {i.name}?",
                danger=True,
            )
            actions.append(revoke)
        cells = (
            i.name,
            i.kind,
            yes(i.active),
            f"{i.token_hint}…" if i.revoked_at is None else f"revoked {when(i.revoked_at)}",
            when(i.last_event_at),
        )
        rows.append(Row(cells, href=base, actions=tuple(actions)))
    return rows


def _integration_fields(session: Session) -> list[Field]:
    return [
        Field("assignment_group_id", "Assign alerts' incidents to", "id", group_choices(session)),
        Field("service_id", "Service", "id", service_choices(session)),
        Field(
            "auto_resolve", "Resolve the incident when the alert resolves", "checkbox", value="on"
        ),
        Field("correlation_seconds", "Correlation window (minutes)", "minutes", value="60"),
        Field("flap_changes", "Flapping after this many changes", "number", value="6"),
        Field("flap_window_seconds", "… within (minutes)", "minutes", value="60"),
        Field(
            "heartbeat_seconds",
            "Heartbeat expected every (minutes)",
            "minutes",
            hint="Empty: no heartbeat.",
        ),
    ]


def integration_fields(session: Session) -> list[Field]:
    return [
        Field("name", "Name", required=True),
        Field("kind", "Kind", "select", KINDS),
        *_integration_fields(session),
    ]


def create_integration(session: Session, actor: Actor, body: BaseModel) -> Done:
    integration, token = admin.create_integration(session, actor, body_of(body, IntegrationCreate))
    message = f"Integration {integration.name} was added; copy its token now."
    return Done(message, secret=token)


def edit_integration(session: Session, integration_id: int) -> Edit:
    i = queries.get_integration(session, integration_id)
    values: dict[str, object] = {
        "name": i.name,
        "active": i.active,
        "assignment_group_id": i.assignment_group_id,
        "service_id": i.service_id,
        "auto_resolve": i.auto_resolve,
        "correlation_seconds": minutes(i.correlation_seconds),
        "flap_changes": i.flap_changes,
        "flap_window_seconds": minutes(i.flap_window_seconds),
        "heartbeat_seconds": minutes(i.heartbeat_seconds),
    }
    fields = [
        Field("name", "Name", required=True),
        Field("active", "Active", "checkbox"),
        *_integration_fields(session),
    ]
    return Edit(heading=f"Integration {i.name} ({i.kind})", fields=fields, values=values)


def update_integration(session: Session, actor: Actor, integration_id: int, body: BaseModel) -> str:
    found = queries.get_integration(session, integration_id)
    admin.update_integration(session, actor, found, body_of(body, IntegrationPatch))
    return f"Integration {found.name} was saved."


def revoke_integration(session: Session, actor: Actor, integration_id: int) -> str:
    found = admin.revoke_token(session, actor, queries.get_integration(session, integration_id))
    return f"The token of {found.name} was revoked."


def rotate_integration(session: Session, actor: Actor, integration_id: int) -> Done:
    found = queries.get_integration(session, integration_id)
    token = admin.rotate_token(session, actor, found)
    return Done(
        f"{found.name} has a new token; copy it now. The old one no longer works.", secret=token
    )


INTEGRATIONS = Section(
    key="integrations",
    title="Integrations",
    singular="integration",
    headers=("Name", "Kind", "Active", "Token", "Last event"),
    rows=integration_rows,
    create_fields=integration_fields,
    create_schema=IntegrationCreate,
    create=create_integration,
    edit=edit_integration,
    edit_schema=IntegrationPatch,
    update=update_integration,
    hint="Monitoring systems that open incidents from alerts. A token is shown once.",
)


# ---------------------------------------------------------------- maintenance windows


def window_rows(session: Session) -> list[Row]:
    services = {s.id: s.name for s in catalog.list_services(session)}
    cis = {c.id: c.name for c in catalog.list_cis(session)}
    names = {i.id: i.name for i in queries.list_integrations(session)}
    rows = []
    for w in queries.list_windows(session):
        scope = (
            cis.get(w.ci_id, "")
            if w.ci_id
            else services.get(w.service_id, "")
            if w.service_id
            else ""
        )
        source = names.get(w.integration_id, "") if w.integration_id else "every integration"
        cells = (
            w.name,
            when(w.starts_at),
            when(w.ends_at),
            scope or "everything",
            source,
            w.reason,
        )
        rows.append(Row(cells, href=f"/admin/maintenance/{w.id}"))
    return rows


def _window_times() -> list[Field]:
    return [
        Field("name", "Name", required=True),
        Field("starts_at", "Starts (UTC)", "datetime", required=True),
        Field("ends_at", "Ends (UTC)", "datetime", required=True),
    ]


def window_fields(session: Session) -> list[Field]:
    cis = options([(c.id, c.name) for c in catalog.list_cis(session)], empty="None")
    integrations = options(
        [(i.id, i.name) for i in queries.list_integrations(session)], empty="Every integration"
    )
    return [
        *_window_times(),
        Field("service_id", "Service", "id", service_choices(session)),
        Field("ci_id", "Configuration item", "id", cis, hint="A service, a CI, or both."),
        Field("integration_id", "Integration", "id", integrations),
        Field("reason", "Reason"),
    ]


def create_window(session: Session, actor: Actor, body: BaseModel) -> Done:
    window = admin.create_window(session, actor, body_of(body, MaintenanceWindowCreate))
    return Done(f"Maintenance window {window.name} was added.")


def edit_window(session: Session, window_id: int) -> Edit:
    w = queries.get_window(session, window_id)
    values: dict[str, object] = {
        "name": w.name,
        "starts_at": input_time(w.starts_at),
        "ends_at": input_time(w.ends_at),
        "reason": w.reason,
    }
    fields = [*_window_times(), Field("reason", "Reason")]
    return Edit(heading=f"Maintenance window {w.name}", fields=fields, values=values)


def update_window(session: Session, actor: Actor, window_id: int, body: BaseModel) -> str:
    window = queries.get_window(session, window_id)
    admin.update_window(session, actor, window, body_of(body, MaintenanceWindowPatch))
    return f"Maintenance window {window.name} was saved."


def delete_window(session: Session, actor: Actor, window_id: int) -> str:
    window = queries.get_window(session, window_id)
    name = window.name
    admin.delete_window(session, actor, window)
    return f"Maintenance window {name} was ended or deleted."


WINDOWS = Section(
    key="maintenance",
    title="Maintenance windows",
    singular="maintenance window",
    headers=("Name", "Starts", "Ends", "Scope", "Integration", "Reason"),
    rows=window_rows,
    create_fields=window_fields,
    create_schema=MaintenanceWindowCreate,
    create=create_window,
    edit=edit_window,
    edit_schema=MaintenanceWindowPatch,
    update=update_window,
    delete=delete_window,
    hint="Alerts in a window are recorded but open no incident. Times are UTC.",
)
