"""REST endpoints for routing: business rules and group strategies (admins write, staff read),
the service-request flag and conversion of an incident, and service requests."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from dutydesk.access.deps import Api
from dutydesk.access.policy import Actor, require_admin
from dutydesk.incidents import queries as incidents
from dutydesk.incidents import service as incident_service
from dutydesk.kernel.errors import Forbidden, NotFound, PreconditionFailed
from dutydesk.models import Incident, ServiceRequest
from dutydesk.people import queries as people
from dutydesk.routing import queries, requests, service
from dutydesk.routing.request_lifecycle import RequestStatus, allowed_actions
from dutydesk.routing.schemas import (
    ConvertRequest,
    GroupRoutingRead,
    GroupRoutingWrite,
    RequestActionBody,
    RequestEventRead,
    RequestFlag,
    RequestList,
    RequestRead,
    RuleCreate,
    RuleOrder,
    RulePatch,
    RuleRead,
    present_rule,
)
from dutydesk.routing.strategies import Strategy

router = APIRouter(prefix="/api/v1", tags=["routing"])
IfMatch = Annotated[str | None, Header(alias="If-Match")]
RULES = "/admin/routing/rules"


def _staff(actor: Actor) -> None:
    if not actor.is_staff:
        raise Forbidden("only service desk staff may see routing")


@router.get(RULES, response_model=list[RuleRead], tags=["admin"])
async def list_rules(api: Api) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        _staff(actor)
        return [present_rule(r) for r in queries.list_rules(session)]

    return await api.read(work)


@router.post(RULES, status_code=201, response_model=RuleRead, tags=["admin"])
async def create_rule(body: RuleCreate, api: Api) -> Response:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        require_admin(actor)  # before the body is read: non-admins get 403, never a 422
        return present_rule(service.create_rule(session, actor, service.rule_fields(body, None)))

    result = await api.write(work)
    return JSONResponse(
        result, status_code=201, headers={"Location": f"/api/v1{RULES}/{result['id']}"}
    )


@router.post(RULES + "/reorder", response_model=list[RuleRead], tags=["admin"])
async def reorder_rules(body: RuleOrder, api: Api) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        return [present_rule(r) for r in service.reorder_rules(session, actor, body.ids)]

    return await api.write(work)


@router.get(RULES + "/{rule_id}", response_model=RuleRead, tags=["admin"])
async def read_rule(rule_id: int, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        _staff(actor)
        return present_rule(queries.get_rule(session, rule_id))

    return await api.read(work)


@router.patch(RULES + "/{rule_id}", response_model=RuleRead, tags=["admin"])
async def patch_rule(rule_id: int, body: RulePatch, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        require_admin(actor)  # before the rule and the body: non-admins get 403, never 404/422
        rule = queries.get_rule(session, rule_id)
        return present_rule(
            service.update_rule(session, actor, rule, service.rule_fields(body, rule))
        )

    return await api.write(work)


@router.delete(RULES + "/{rule_id}", status_code=204, tags=["admin"])
async def delete_rule(rule_id: int, api: Api) -> Response:
    def work(session: Session, actor: Actor) -> None:
        require_admin(actor)  # a missing rule is 403 for non-admins too
        service.delete_rule(session, actor, queries.get_rule(session, rule_id))

    await api.write(work)
    return Response(status_code=204)


# ----------------------------------------------------------------- group strategies


def _group_read(session: Session, group_id: int) -> dict[str, Any]:
    group = people.get_group(session, group_id)
    setting = queries.get_group_routing(session, group.id)
    return GroupRoutingRead(
        group_id=group.id,
        group=group.name,
        strategy=Strategy(setting.strategy) if setting else Strategy.manual,
        last_user_id=setting.last_user_id if setting else None,
        available_member_ids=queries.available_members(session, group.id),
    ).model_dump(mode="json")


@router.get("/admin/routing/groups/{group_id}", response_model=GroupRoutingRead, tags=["admin"])
async def read_group_routing(group_id: int, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        _staff(actor)
        return _group_read(session, group_id)

    return await api.read(work)


@router.put("/admin/routing/groups/{group_id}", response_model=GroupRoutingRead, tags=["admin"])
async def write_group_routing(group_id: int, body: GroupRoutingWrite, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        service.set_group_strategy(session, actor, group_id, body.strategy)
        return _group_read(session, group_id)

    return await api.write(work)


# ----------------------------------------------------------------- service requests


def _request_read(session: Session, actor: Actor, row: ServiceRequest) -> dict[str, Any]:
    read = RequestRead.model_validate(row)
    incident = session.get(Incident, row.incident_id)
    read.incident_number = incident.number if incident is not None else None
    read.allowed_actions = allowed_actions(RequestStatus(row.state), actor.role)
    return read.model_dump(mode="json")


def _etag_json(body: dict[str, Any], status_code: int = 200, **headers: str) -> JSONResponse:
    return JSONResponse(
        body, status_code=status_code, headers={"ETag": f'"{body["version"]}"', **headers}
    )


@router.put("/incidents/{number}/request-flag", tags=["incidents"])
async def flag_incident(
    number: str, body: RequestFlag, api: Api, if_match: IfMatch = None
) -> Response:
    """Mark (or unmark) the incident as really a service request; conversion is separate."""

    def work(session: Session, actor: Actor) -> dict[str, Any]:
        incident = incidents.get_incident_for(session, actor, number, for_update=True)
        incident_service.check_version(incident, if_match, api.settings)
        requests.set_request_flag(session, actor, incident, body.is_service_request, body.reason)
        session.flush()
        return {
            "number": incident.number,
            "is_service_request": incident.is_service_request,
            "version": incident.version,
        }

    return _etag_json(await api.write(work))


@router.post(
    "/incidents/{number}/convert-to-request",
    status_code=201,
    response_model=RequestRead,
    tags=["incidents"],
)
async def convert_incident(
    number: str, api: Api, body: ConvertRequest | None = None, if_match: IfMatch = None
) -> Response:
    reason = body.reason if body is not None else None

    def work(session: Session, actor: Actor) -> dict[str, Any]:
        incident = incidents.get_incident_for(session, actor, number, for_update=True)
        incident_service.check_version(incident, if_match, api.settings)
        row = requests.convert_to_request(session, api.settings, actor, incident, reason)
        session.flush()
        return _request_read(session, actor, row)

    result = await api.write(work)
    return _etag_json(result, 201, Location=f"/api/v1/requests/{result['number']}")


@router.get("/incidents/{number}/request", response_model=RequestRead, tags=["incidents"])
async def read_incident_request(number: str, api: Api) -> Response:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        incident = incidents.get_incident_for(session, actor, number)
        row = queries.request_of_incident(session, incident.id)
        if row is None:
            raise NotFound(f"{number} was not converted to a service request")
        return _request_read(session, actor, queries.get_request_for(session, actor, row.number))

    return _etag_json(await api.read(work))


@router.get("/requests", response_model=RequestList, tags=["requests"])
async def list_requests(
    api: Api,
    state: RequestStatus | None = None,
    cursor: Annotated[str | None, Query(max_length=20, pattern=r"^[0-9]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        rows = queries.list_requests(
            session,
            actor,
            state=state.value if state else None,
            limit=limit + 1,
            after_id=int(cursor) if cursor else None,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return {
            "items": [_request_read(session, actor, r) for r in rows],
            "next_cursor": str(rows[-1].id) if more and rows else None,
        }

    return await api.read(work)


@router.get("/requests/{number}", response_model=RequestRead, tags=["requests"])
async def read_request(number: str, api: Api) -> Response:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        return _request_read(session, actor, queries.get_request_for(session, actor, number))

    return _etag_json(await api.read(work))


@router.get("/requests/{number}/events", response_model=list[RequestEventRead], tags=["requests"])
async def list_request_events(number: str, api: Api) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        row = queries.get_request_for(session, actor, number)
        out = []
        for event in queries.list_request_events(session, row):
            read = RequestEventRead.model_validate(event)
            read.old = requests.decode(event.old)
            read.new = requests.decode(event.new)
            out.append(read.model_dump(mode="json"))
        return out

    return await api.read(work)


@router.post("/requests/{number}/actions/{action}", response_model=RequestRead, tags=["requests"])
async def act_on_request(
    number: str,
    action: str,
    api: Api,
    body: RequestActionBody | None = None,
    if_match: IfMatch = None,
) -> Response:
    reason = body.reason if body is not None else None

    def work(session: Session, actor: Actor) -> dict[str, Any]:
        row = queries.get_request_for(session, actor, number, for_update=True)
        if if_match is not None and if_match.strip().removeprefix("W/") not in (
            "*",
            f'"{row.version}"',
        ):
            raise PreconditionFailed(
                f"{number} changed since you read it", extra={"etag": f'"{row.version}"'}
            )
        requests.act_on_request(session, actor, row, action, reason)
        session.flush()
        return _request_read(session, actor, row)

    return _etag_json(await api.write(work))
