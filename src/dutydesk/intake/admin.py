"""Admin writes: integrations (with revocable tokens, of which only a hash is kept) and
maintenance windows. Services: they never commit."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, Role, require_admin
from dutydesk.catalog import queries as catalog
from dutydesk.intake import queries
from dutydesk.intake.schemas import (
    IntegrationCreate,
    IntegrationPatch,
    MaintenanceWindowCreate,
    MaintenanceWindowPatch,
)
from dutydesk.kernel import clock
from dutydesk.kernel.errors import Conflict, InvalidInput
from dutydesk.models import Alert, ConfigurationItem, Integration, MaintenanceWindow, Service
from dutydesk.people import queries as people
from dutydesk.people import service as people_service
from dutydesk.people.secrets import hash_token

TOKEN_PREFIX = "ddi_"  # integration tokens; API tokens use another prefix


def new_integration_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "integration"


def _check_refs(session: Session, values: dict[str, Any]) -> None:
    if values.get("assignment_group_id") is not None:
        people.get_group(session, values["assignment_group_id"])
    if values.get("service_id") is not None:
        catalog.get_service(session, values["service_id"])


def create_integration(
    session: Session, actor: Actor, data: IntegrationCreate
) -> tuple[Integration, str]:
    """A new integration, its service account, and its token (returned once)."""
    require_admin(actor)
    if queries.find_integration_by_name(session, data.name) is not None:
        raise Conflict(
            f"an integration named {data.name!r} exists",
            errors=[{"field": "name", "msg": "already taken"}],
        )
    values = data.model_dump()
    _check_refs(session, values)
    slug = f"{_slug(data.name)}-{secrets.token_hex(3)}"
    user = people_service.add_user(
        session,
        actor,
        username=f"integration-{slug}",
        email=f"integration-{slug}@integrations.invalid",
        role=Role.agent,
        full_name=f"Integration {data.name}"[:200],
    )
    session.flush()
    token = new_integration_token()
    now = clock.now()
    integration = Integration(
        name=data.name,
        kind=data.kind,
        token_hash=hash_token(token),
        token_hint=token[:8],
        active=True,
        user_id=user.id,
        assignment_group_id=data.assignment_group_id,
        service_id=data.service_id,
        severity_map=data.severity_map or {},
        auto_resolve=data.auto_resolve,
        correlation_seconds=data.correlation_seconds,
        flap_changes=data.flap_changes,
        flap_window_seconds=data.flap_window_seconds,
        heartbeat_seconds=data.heartbeat_seconds,
        heartbeat_due_at=(
            now + timedelta(seconds=data.heartbeat_seconds) if data.heartbeat_seconds else None
        ),
        created_at=now,
        updated_at=now,
    )
    session.add(integration)
    session.flush()
    return integration, token


def update_integration(
    session: Session, actor: Actor, integration: Integration, data: IntegrationPatch
) -> Integration:
    require_admin(actor)
    values = data.model_dump(exclude_unset=True)
    renamed = values.get("name") not in (None, integration.name)
    if renamed and queries.find_integration_by_name(session, values["name"]) is not None:
        raise Conflict(
            f"an integration named {values['name']!r} exists",
            errors=[{"field": "name", "msg": "already taken"}],
        )
    for name in ("name", "active", "auto_resolve", "correlation_seconds"):
        if name in values and values[name] is None:
            raise InvalidInput("a value is required", errors=[{"field": name, "msg": "not null"}])
    _check_refs(session, values)
    for name, value in values.items():
        if name in ("flap_changes", "flap_window_seconds") and value is None:
            continue
        setattr(integration, name, value if name != "severity_map" else (value or {}))
    if "heartbeat_seconds" in values:
        seconds = values["heartbeat_seconds"]
        integration.heartbeat_due_at = clock.now() + timedelta(seconds=seconds) if seconds else None
    integration.updated_at = clock.now()
    return integration


def revoke_token(session: Session, actor: Actor, integration: Integration) -> Integration:
    """The token stops working at once; the alerts stay."""
    require_admin(actor)
    integration.revoked_at = clock.now()  # the hash stays, so the token answers 403
    integration.updated_at = clock.now()
    return integration


def rotate_token(session: Session, actor: Actor, integration: Integration) -> str:
    """A new token replaces the old one (which stops working)."""
    require_admin(actor)
    token = new_integration_token()
    integration.token_hash = hash_token(token)
    integration.token_hint = token[:8]
    integration.revoked_at = None
    integration.updated_at = clock.now()
    return token


def create_window(
    session: Session, actor: Actor, data: MaintenanceWindowCreate
) -> MaintenanceWindow:
    require_admin(actor)
    errors = []
    if data.service_id is not None and session.get(Service, data.service_id) is None:
        errors.append({"field": "service_id", "msg": "not found"})
    if data.ci_id is not None and session.get(ConfigurationItem, data.ci_id) is None:
        errors.append({"field": "ci_id", "msg": "not found"})
    if data.integration_id is not None and session.get(Integration, data.integration_id) is None:
        errors.append({"field": "integration_id", "msg": "not found"})
    if errors:
        raise InvalidInput("a referenced record does not exist", errors=errors)
    window = MaintenanceWindow(
        **data.model_dump(), created_by=actor.name[:200], created_at=clock.now()
    )
    window.release_at = window.ends_at  # the worker releases what still fires then
    session.add(window)
    session.flush()
    return window


def update_window(
    session: Session, actor: Actor, window: MaintenanceWindow, data: MaintenanceWindowPatch
) -> MaintenanceWindow:
    require_admin(actor)
    values = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    starts, ends = values.get("starts_at", window.starts_at), values.get("ends_at", window.ends_at)
    if ends <= starts:
        raise InvalidInput(
            "the window ends before it starts",
            errors=[{"field": "ends_at", "msg": "must be after starts_at"}],
        )
    for name, value in values.items():
        setattr(window, name, value)
    if "ends_at" in values:
        window.release_at = window.ends_at  # a moved end moves (or re-arms) the release
    return window


def delete_window(session: Session, actor: Actor, window: MaintenanceWindow) -> None:
    """A window that suppressed alerts is ended now and kept (the alerts name it); an unused
    one is deleted."""
    require_admin(actor)
    used = session.scalar(select(Alert.id).where(Alert.suppressed_by_id == window.id).limit(1))
    if used is None:
        session.delete(window)
        return
    now = clock.now()
    window.ends_at = min(window.ends_at, now)
    window.starts_at = min(window.starts_at, window.ends_at - timedelta(microseconds=1))
    window.release_at = window.ends_at
