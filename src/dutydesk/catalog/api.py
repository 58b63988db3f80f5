"""REST endpoints for the catalog: services, configuration items, categories."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from dutydesk.access.deps import Api
from dutydesk.access.policy import Actor, require_admin
from dutydesk.catalog import queries, service
from dutydesk.catalog.schemas import (
    CategoryCreate,
    CategoryRead,
    CICreate,
    CIPatch,
    CIRead,
    ServiceCreate,
    ServicePatch,
    ServiceRead,
)
from dutydesk.kernel.errors import InvalidInput

router = APIRouter(prefix="/api/v1", tags=["catalog"])


@router.get("/services", response_model=list[ServiceRead])
async def list_services(api: Api) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        rows = queries.list_services(session)
        if not actor.is_staff:  # requesters see services offered to everyone or to them
            rows = [s for s in rows if s.customer_id in (None, actor.customer_id)]
        return [ServiceRead.model_validate(s).model_dump() for s in rows]

    return await api.read(work)


@router.post("/admin/services", status_code=201, response_model=ServiceRead, tags=["admin"])
async def create_service(body: ServiceCreate, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        return ServiceRead.model_validate(
            service.create_service(session, actor, **body.model_dump())
        ).model_dump()

    return await api.write(work)


@router.get("/cis", response_model=list[CIRead])
async def list_cis(api: Api, service_id: int | None = None) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        scope: int | bool | None = False if actor.is_staff else actor.customer_id
        rows = queries.list_cis(session, service_id, for_customer=scope)
        return [CIRead.model_validate(c).model_dump() for c in rows]

    return await api.read(work)


@router.post("/admin/cis", status_code=201, response_model=CIRead, tags=["admin"])
async def create_ci(body: CICreate, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        return CIRead.model_validate(
            service.create_ci(session, actor, **body.model_dump())
        ).model_dump()

    return await api.write(work)


@router.get("/categories", response_model=list[CategoryRead])
async def list_categories(api: Api) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        return [
            CategoryRead.model_validate(c).model_dump() for c in queries.list_categories(session)
        ]

    return await api.read(work)


@router.post("/admin/categories", status_code=201, response_model=CategoryRead, tags=["admin"])
async def create_category(body: CategoryCreate, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        return CategoryRead.model_validate(
            service.create_category(session, actor, **body.model_dump())
        ).model_dump()

    return await api.write(work)


@router.patch("/admin/services/{service_id}", response_model=ServiceRead, tags=["admin"])
async def patch_service(service_id: int, body: ServicePatch, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        require_admin(actor)
        changes = body.model_dump(exclude_unset=True)
        found = service.update_service(
            session, actor, queries.get_service(session, service_id), changes
        )
        return ServiceRead.model_validate(found).model_dump()

    return await api.write(work)


@router.patch("/admin/cis/{ci_id}", response_model=CIRead, tags=["admin"])
async def patch_ci(ci_id: int, body: CIPatch, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        require_admin(actor)
        changes = body.model_dump(exclude_unset=True)
        if changes.get("ci_class", "") is None or changes.get("criticality", "") is None:
            raise InvalidInput("ci_class and criticality cannot be emptied")
        found = service.update_ci(session, actor, queries.get_ci(session, ci_id), changes)
        return CIRead.model_validate(found).model_dump()

    return await api.write(work)
