"""REST endpoints for escalation: an incident's escalations (list, on demand), and the admin's
paths (the functional escalation matrix) and hierarchic levels. Admins write; staff read."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from sqlalchemy.orm import Session

from dutydesk.access.deps import Api
from dutydesk.access.policy import Actor, require_admin, require_staff
from dutydesk.escalation import admin, queries, service
from dutydesk.escalation.schemas import (
    EscalationCreate,
    EscalationRead,
    LevelCreate,
    LevelPatch,
    LevelRead,
    PathCreate,
    PathPatch,
    PathRead,
    StepRead,
)
from dutydesk.incidents import actions
from dutydesk.incidents import queries as incidents
from dutydesk.incidents import service as incident_service
from dutydesk.incidents.schemas import ActionRequest
from dutydesk.kernel.errors import Conflict, Forbidden, InvalidInput
from dutydesk.models import EscalationLevel, EscalationPath, IncidentEscalation

router = APIRouter(prefix="/api/v1", tags=["escalation"])
IfMatch = Annotated[str | None, Header(alias="If-Match")]


def _staff(actor: Actor) -> None:
    """Reading escalations and their rules is for service desk staff (any token scope)."""
    if not actor.is_staff:
        raise Forbidden("only service desk staff may see escalations")


def _escalation(row: IncidentEscalation) -> dict[str, Any]:
    return EscalationRead.model_validate(row).model_dump(mode="json")


@router.get("/incidents/{number}/escalations", response_model=list[EscalationRead])
async def list_escalations(number: str, api: Api) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        incident = incidents.get_incident_for(session, actor, number)
        _staff(actor)
        return [_escalation(e) for e in queries.list_escalations(session, incident)]

    return await api.read(work)


def _checked_request(body: EscalationCreate) -> None:
    errors = []
    if body.kind == "functional" and body.level_id is not None:
        errors.append({"field": "level_id", "msg": "only for a hierarchic escalation"})
    if body.kind == "hierarchic" and not (body.reason and body.reason.strip()):
        errors.append({"field": "reason", "msg": "say why management is told"})
    if errors:
        raise InvalidInput("the escalation request is not valid", errors=errors)


@router.post("/incidents/{number}/escalations", status_code=201, response_model=EscalationRead)
async def escalate(
    number: str, body: EscalationCreate, api: Api, if_match: IfMatch = None
) -> dict[str, Any]:
    """Escalate now. If-Match is checked when sent (a functional escalation reassigns)."""

    def work(session: Session, actor: Actor) -> dict[str, Any]:
        incident = incidents.get_incident_for(session, actor, number, for_update=True)
        require_staff(actor)
        _checked_request(body)
        if if_match is not None:
            incident_service.check_version(incident, if_match, api.settings)
        if body.kind == "hierarchic":
            assert body.reason is not None
            row = service.escalate_hierarchic(
                session,
                api.settings,
                actor,
                incident,
                reason=body.reason,
                level_id=body.level_id,
            )
        else:
            if service.next_step(session, incident) is None:
                raise Conflict(
                    f"{incident.number} has no escalation path with a step after its current "
                    "group; escalate it to a named group with the escalate action"
                )
            request = ActionRequest(reason=body.reason)
            actions.perform_action(
                session, actor, incident, "escalate", request, settings=api.settings
            )
            row = queries.list_escalations(session, incident)[-1]
        session.flush()
        return _escalation(row)

    return await api.write(work)


# ----------------------------------------------------------------------------- paths


def _path(session: Session, row: EscalationPath) -> dict[str, Any]:
    steps = queries.steps_of(session, [row.id])[row.id]
    return PathRead(
        id=row.id,
        name=row.name,
        category_id=row.category_id,
        service_id=row.service_id,
        active=row.active,
        steps=[StepRead.model_validate(s) for s in steps],
        updated_at=row.updated_at,
    ).model_dump(mode="json")


@router.get("/admin/escalation/paths", response_model=list[PathRead], tags=["admin"])
async def list_paths(api: Api) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        _staff(actor)
        return [_path(session, p) for p in queries.list_paths(session)]

    return await api.read(work)


@router.post("/admin/escalation/paths", status_code=201, response_model=PathRead, tags=["admin"])
async def create_path(body: PathCreate, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        return _path(session, admin.create_path(session, actor, body.model_dump()))

    return await api.write(work)


@router.get("/admin/escalation/paths/{path_id}", response_model=PathRead, tags=["admin"])
async def read_path(path_id: int, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        _staff(actor)
        return _path(session, queries.get_path(session, path_id))

    return await api.read(work)


@router.patch("/admin/escalation/paths/{path_id}", response_model=PathRead, tags=["admin"])
async def patch_path(path_id: int, body: PathPatch, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        require_admin(actor)
        row = queries.get_path(session, path_id)
        values = body.model_dump(exclude_unset=True)
        return _path(session, admin.update_path(session, actor, row, values))

    return await api.write(work)


@router.delete("/admin/escalation/paths/{path_id}", status_code=204, tags=["admin"])
async def delete_path(path_id: int, api: Api) -> Response:
    def work(session: Session, actor: Actor) -> None:
        require_admin(actor)
        admin.delete_path(session, actor, queries.get_path(session, path_id))

    await api.write(work)
    return Response(status_code=204)


# ----------------------------------------------------------------------------- levels


def _level(row: EscalationLevel) -> dict[str, Any]:
    return LevelRead.model_validate(row).model_dump(mode="json")


@router.get("/admin/escalation/levels", response_model=list[LevelRead], tags=["admin"])
async def list_levels(api: Api) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        _staff(actor)
        return [_level(row) for row in queries.list_levels(session)]

    return await api.read(work)


@router.post("/admin/escalation/levels", status_code=201, response_model=LevelRead, tags=["admin"])
async def create_level(body: LevelCreate, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        return _level(admin.create_level(session, actor, body.model_dump()))

    return await api.write(work)


@router.get("/admin/escalation/levels/{level_id}", response_model=LevelRead, tags=["admin"])
async def read_level(level_id: int, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        _staff(actor)
        return _level(queries.get_level(session, level_id))

    return await api.read(work)


@router.patch("/admin/escalation/levels/{level_id}", response_model=LevelRead, tags=["admin"])
async def patch_level(level_id: int, body: LevelPatch, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        require_admin(actor)
        row = queries.get_level(session, level_id)
        values = body.model_dump(exclude_unset=True)
        return _level(admin.update_level(session, actor, row, values))

    return await api.write(work)


@router.delete("/admin/escalation/levels/{level_id}", status_code=204, tags=["admin"])
async def delete_level(level_id: int, api: Api) -> Response:
    def work(session: Session, actor: Actor) -> None:
        require_admin(actor)
        admin.delete_level(session, actor, queries.get_level(session, level_id))

    await api.write(work)
    return Response(status_code=204)
