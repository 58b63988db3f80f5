"""REST endpoints for SLAs: calendars, SLA policies, OLAs, and an incident's clocks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime
from sqlalchemy.orm import Session

from dutydesk.access.deps import Api
from dutydesk.access.policy import Actor, require_admin
from dutydesk.incidents import queries as incidents
from dutydesk.incidents.schemas import ClockRead
from dutydesk.kernel.errors import InvalidInput
from dutydesk.sla import admin as sla_admin
from dutydesk.sla import queries, service
from dutydesk.sla.business_time import add_business_seconds
from dutydesk.sla.calendar import CalendarError
from dutydesk.sla.schemas import (
    CalendarPatch,
    CalendarRead,
    CalendarWrite,
    DeadlineQuery,
    DeadlineRead,
    OlaCreate,
    OlaPatch,
    OlaRead,
    PolicyCreate,
    PolicyPatch,
    PolicyRead,
)

router = APIRouter(prefix="/api/v1", tags=["sla"])


@router.get("/incidents/{number}/sla", response_model=list[ClockRead])
async def incident_clocks(number: str, api: Api) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        incident = incidents.get_incident_for(session, actor, number)
        return [
            ClockRead.model_validate(c).model_dump(mode="json")
            for c in queries.clock_views(session, incident)
        ]

    return await api.read(work)


# ----------------------------------------------------------------------------- calendars


def _calendar(row: Any) -> dict[str, Any]:
    return CalendarRead.model_validate(row).model_dump(mode="json")


@router.get("/admin/sla/calendars", response_model=list[CalendarRead], tags=["admin"])
async def list_calendars(api: Api) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        require_admin(actor)
        return [_calendar(c) for c in queries.list_calendars(session)]

    return await api.read(work)


@router.post("/admin/sla/calendars", status_code=201, response_model=CalendarRead, tags=["admin"])
async def create_calendar(body: CalendarWrite, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        return _calendar(
            sla_admin.create_calendar(session, actor, name=body.name, config=body.config)
        )

    return await api.write(work)


@router.patch("/admin/sla/calendars/{calendar_id}", response_model=CalendarRead, tags=["admin"])
async def patch_calendar(calendar_id: int, body: CalendarPatch, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        require_admin(actor)
        row = queries.get_calendar(session, calendar_id)
        return _calendar(
            sla_admin.update_calendar(session, actor, row, name=body.name, config=body.config)
        )

    return await api.write(work)


@router.get(
    "/admin/sla/calendars/{calendar_id}/deadline", response_model=DeadlineRead, tags=["admin"]
)
async def calendar_deadline(
    calendar_id: int, api: Api, start: AwareDatetime, seconds: Annotated[int, Query(ge=0)]
) -> dict[str, Any]:
    """When `seconds` of business time after `start` end on this calendar (a check for admins)."""
    body = DeadlineQuery(start=start, seconds=seconds)

    def work(session: Session, actor: Actor) -> dict[str, Any]:
        require_admin(actor)
        queries.get_calendar(session, calendar_id)
        cal = service.calendar_of(session, calendar_id)
        try:
            due = add_business_seconds(cal, body.start, body.seconds)
        except CalendarError as exc:
            raise InvalidInput(str(exc), errors=[{"field": "seconds", "msg": str(exc)}]) from exc
        return DeadlineRead(start=body.start, seconds=body.seconds, due_at=due).model_dump(
            mode="json"
        )

    return await api.read(work)


# ----------------------------------------------------------------------------- policies


def _policy(row: Any) -> dict[str, Any]:
    return PolicyRead.model_validate(row).model_dump(mode="json")


@router.get("/admin/sla/policies", response_model=list[PolicyRead], tags=["admin"])
async def list_policies(api: Api) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        require_admin(actor)
        return [_policy(p) for p in queries.list_policies(session)]

    return await api.read(work)


@router.post("/admin/sla/policies", status_code=201, response_model=PolicyRead, tags=["admin"])
async def create_policy(body: PolicyCreate, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        return _policy(sla_admin.create_policy(session, actor, body.model_dump()))

    return await api.write(work)


@router.patch("/admin/sla/policies/{policy_id}", response_model=PolicyRead, tags=["admin"])
async def patch_policy(policy_id: int, body: PolicyPatch, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        require_admin(actor)
        row = queries.get_policy(session, policy_id)
        values = body.model_dump(exclude_unset=True)
        return _policy(sla_admin.update_policy(session, actor, row, values))

    return await api.write(work)


# ----------------------------------------------------------------------------- OLAs


def _ola(row: Any) -> dict[str, Any]:
    return OlaRead.model_validate(row).model_dump(mode="json")


@router.get("/admin/sla/olas", response_model=list[OlaRead], tags=["admin"])
async def list_olas(api: Api) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        require_admin(actor)
        return [_ola(o) for o in queries.list_olas(session)]

    return await api.read(work)


@router.post("/admin/sla/olas", status_code=201, response_model=OlaRead, tags=["admin"])
async def create_ola(body: OlaCreate, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        return _ola(sla_admin.create_ola(session, actor, body.model_dump()))

    return await api.write(work)


@router.patch("/admin/sla/olas/{ola_id}", response_model=OlaRead, tags=["admin"])
async def patch_ola(ola_id: int, body: OlaPatch, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        require_admin(actor)
        row = queries.get_ola(session, ola_id)
        return _ola(sla_admin.update_ola(session, actor, row, body.model_dump(exclude_unset=True)))

    return await api.write(work)


# ----------------------------------------------------------------------------- deleting


@router.delete("/admin/sla/calendars/{calendar_id}", status_code=204, tags=["admin"])
async def delete_calendar(calendar_id: int, api: Api) -> Response:
    """Only a calendar no policy, OLA or clock uses (409 names them)."""

    def work(session: Session, actor: Actor) -> None:
        require_admin(actor)
        sla_admin.delete_calendar(session, actor, queries.get_calendar(session, calendar_id))

    await api.write(work)
    return Response(status_code=204)


@router.delete("/admin/sla/policies/{policy_id}", status_code=204, tags=["admin"])
async def delete_policy(policy_id: int, api: Api) -> Response:
    """Incidents re-match a policy at their next change; the last catch-all cannot go."""

    def work(session: Session, actor: Actor) -> None:
        require_admin(actor)
        sla_admin.delete_policy(session, actor, queries.get_policy(session, policy_id))

    await api.write(work)
    return Response(status_code=204)


@router.delete("/admin/sla/olas/{ola_id}", status_code=204, tags=["admin"])
async def delete_ola(ola_id: int, api: Api) -> Response:
    def work(session: Session, actor: Actor) -> None:
        require_admin(actor)
        sla_admin.delete_ola(session, actor, queries.get_ola(session, ola_id))

    await api.write(work)
    return Response(status_code=204)
