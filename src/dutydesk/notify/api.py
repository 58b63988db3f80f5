"""REST endpoints for notifications: endpoints, templates, the outbox, user preferences."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from sqlalchemy.orm import Session

from dutydesk.access.deps import Api
from dutydesk.access.policy import Actor, require_admin
from dutydesk.models import Notification, NotifyEndpoint
from dutydesk.notify import admin, queries, service
from dutydesk.notify.schemas import (
    EndpointCreate,
    EndpointCreated,
    EndpointPatch,
    EndpointRead,
    NotificationList,
    NotificationRead,
    PreferenceRead,
    PreferenceWrite,
    PreviewRead,
    TemplatePreview,
    TemplateRead,
    TemplateWrite,
)

router = APIRouter(prefix="/api/v1", tags=["notifications"])
ADMIN = "/admin/notify"


def _endpoint(endpoint: NotifyEndpoint) -> dict[str, Any]:
    read = EndpointRead.model_validate(endpoint)
    return read.model_copy(update={"has_secret": bool(endpoint.secret)}).model_dump(mode="json")


def _notification(notification: Notification, number: str | None) -> dict[str, Any]:
    read = NotificationRead.model_validate(notification)
    return read.model_copy(update={"incident_number": number}).model_dump(mode="json")


def _template(session: Session, event: str, channel: str) -> dict[str, Any]:
    view = queries.get_template_view(session, event, channel)
    return TemplateRead.model_validate(view).model_dump(mode="json")


# ----------------------------------------------------------------- endpoints


@router.get(f"{ADMIN}/endpoints", response_model=list[EndpointRead], tags=["admin"])
async def list_endpoints(api: Api) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        require_admin(actor)
        return [_endpoint(e) for e in queries.list_endpoints(session)]

    return await api.read(work)


@router.post(f"{ADMIN}/endpoints", status_code=201, response_model=EndpointCreated, tags=["admin"])
async def create_endpoint(body: EndpointCreate, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        endpoint, secret = admin.create_endpoint(session, actor, **body.model_dump())
        return {**_endpoint(endpoint), "secret": secret}

    return await api.write(work)


@router.patch(f"{ADMIN}/endpoints/{{endpoint_id}}", response_model=EndpointRead, tags=["admin"])
async def patch_endpoint(endpoint_id: int, body: EndpointPatch, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        require_admin(actor)
        endpoint = queries.get_endpoint(session, endpoint_id)
        changes = body.model_dump(exclude_unset=True)
        return _endpoint(admin.update_endpoint(session, actor, endpoint, changes))

    return await api.write(work)


# ----------------------------------------------------------------- templates


@router.get(f"{ADMIN}/templates", response_model=list[TemplateRead], tags=["admin"])
async def list_templates(api: Api) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        require_admin(actor)
        return [
            TemplateRead.model_validate(v).model_dump(mode="json")
            for v in queries.list_templates(session)
        ]

    return await api.read(work)


@router.put(f"{ADMIN}/templates/{{event}}/{{channel}}", response_model=TemplateRead, tags=["admin"])
async def put_template(event: str, channel: str, body: TemplateWrite, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        admin.put_template(
            session, api.settings, actor, event, channel, subject=body.subject, body=body.body
        )
        return _template(session, event, channel)

    return await api.write(work)


@router.delete(
    f"{ADMIN}/templates/{{event}}/{{channel}}", response_model=TemplateRead, tags=["admin"]
)
async def delete_template(event: str, channel: str, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        admin.delete_template(session, actor, event, channel)
        return _template(session, event, channel)

    return await api.write(work)


@router.post(
    f"{ADMIN}/templates/{{event}}/{{channel}}/preview", response_model=PreviewRead, tags=["admin"]
)
async def preview_template(
    event: str, channel: str, body: TemplatePreview, api: Api
) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        shown = admin.preview_template(
            session, api.settings, actor, event, channel, subject=body.subject, body=body.body
        )
        return {"event": event, "channel": channel, "subject": shown.subject, "body": shown.body}

    return await api.write(work)  # writes nothing, but a POST needs a write-scope token


# ----------------------------------------------------------------- the outbox


@router.get(f"{ADMIN}/outbox", response_model=NotificationList, tags=["admin"])
async def list_outbox(
    api: Api,
    state: str | None = None,
    incident: Annotated[str | None, Query(max_length=20)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        require_admin(actor)
        page = queries.list_notifications(
            session, state=state, incident_number=incident, cursor=cursor, limit=limit
        )
        return {
            "items": [_notification(n, number) for n, number in page.items],
            "next_cursor": page.next_cursor,
        }

    return await api.read(work)


@router.get(f"{ADMIN}/outbox/{{notification_id}}", response_model=NotificationRead, tags=["admin"])
async def read_notification(notification_id: int, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        require_admin(actor)
        found = queries.get_notification(session, notification_id)
        return _notification(found, queries.get_incident_number(session, found.incident_id))

    return await api.read(work)


@router.post(
    f"{ADMIN}/outbox/{{notification_id}}/retry", response_model=NotificationRead, tags=["admin"]
)
async def retry_notification(notification_id: int, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        found = service.retry(session, actor, notification_id)
        return _notification(found, queries.get_incident_number(session, found.incident_id))

    return await api.write(work)


# ----------------------------------------------------------------- preferences


def _preferences(session: Session, user_id: int) -> list[dict[str, Any]]:
    return [
        PreferenceRead.model_validate(p).model_dump()
        for p in queries.list_preferences(session, user_id)
    ]


@router.get("/me/notify/preferences", response_model=list[PreferenceRead])
async def read_preferences(api: Api) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        return _preferences(session, service.own_user_id(actor))

    return await api.read(work)


@router.put("/me/notify/preferences", response_model=list[PreferenceRead])
async def write_preferences(
    body: Annotated[list[PreferenceWrite], Body(max_length=64)], api: Api
) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        user_id = service.own_user_id(actor)
        for item in body:
            service.set_preference(session, actor, user_id, item.event, item.channel, item.enabled)
        return _preferences(session, user_id)

    return await api.write(work)
