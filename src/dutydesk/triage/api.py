"""REST endpoints for triage suggestions (list, accept, dismiss, revert), similar incidents,
and the stored models. Suggestions and models are for staff; similar incidents are filtered
by what the caller may see."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from sqlalchemy.orm import Session

from dutydesk.access.deps import Api
from dutydesk.access.policy import Actor
from dutydesk.incidents import queries as incidents
from dutydesk.incidents import service as incident_service
from dutydesk.kernel.errors import NotFound
from dutydesk.kernel.schemas import Text
from dutydesk.models import TriageSuggestion
from dutydesk.triage import queries, service
from dutydesk.triage.schemas import ModelRead, SimilarRead, SuggestionDecision, SuggestionRead

router = APIRouter(prefix="/api/v1", tags=["triage"])
IfMatch = Annotated[str | None, Header(alias="If-Match")]
Limit = Annotated[int, Query(ge=1, le=50)]


def _suggestion(row: TriageSuggestion) -> dict[str, Any]:
    return SuggestionRead.model_validate(row).model_dump(mode="json")


@router.get("/incidents/{number}/suggestions", response_model=list[SuggestionRead])
async def list_suggestions(number: str, api: Api) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        incident = incidents.get_incident_for(session, actor, number)
        queries.require_staff_reader(actor)
        return [_suggestion(s) for s in queries.list_suggestions(session, incident)]

    return await api.read(work)


@router.post("/incidents/{number}/suggestions/{ident}/{decision}", response_model=SuggestionRead)
async def decide(
    number: str,
    ident: int,
    decision: str,
    api: Api,
    body: SuggestionDecision | None = None,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    """`accept` a pending suggestion, `dismiss` it, or `revert` an applied one."""
    note = body.note if body is not None else None

    def work(session: Session, actor: Actor) -> dict[str, Any]:
        incident = incidents.get_incident_for(session, actor, number, for_update=True)
        queries.require_staff_reader(actor)
        if if_match is not None:
            incident_service.check_version(incident, if_match, api.settings)
        row = queries.get_suggestion(session, incident, ident)
        if decision == "accept":
            service.accept(session, api.settings, actor, incident, row, note=note)
        elif decision == "dismiss":
            service.dismiss(session, actor, incident, row, note=note)
        elif decision == "revert":
            service.revert(session, actor, incident, row, note=note)
        else:
            raise NotFound(f"no decision {decision!r}: accept, dismiss or revert")
        session.flush()
        return _suggestion(row)

    return await api.write(work)


def _similar(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [SimilarRead.model_validate(s).model_dump(mode="json") for s in found]


@router.get("/incidents/{number}/similar", response_model=list[SimilarRead])
async def similar_to_incident(number: str, api: Api, limit: Limit = 5) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        incident = incidents.get_incident_for(session, actor, number)
        # cycle: none; deferred: numpy and scipy load at the first similar-incidents
        # request, not with the web app (~0.13 s of every process start)
        from dutydesk.triage import similar

        found = similar.similar_incidents(
            session,
            actor,
            queries.text_of(incident),
            limit=limit,
            max_age=api.settings.similar_refresh_seconds,
            exclude=incident.id,
        )
        return _similar(found)

    return await api.read(work)


@router.get("/similar", response_model=list[SimilarRead])
async def similar_to_text(
    api: Api, text: Annotated[Text, Query(min_length=1)], limit: Limit = 5
) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        queries.require_staff_reader(actor)
        from dutydesk.triage import similar  # cycle: none; deferred: as above

        found = similar.similar_incidents(
            session, actor, text, limit=limit, max_age=api.settings.similar_refresh_seconds
        )
        return _similar(found)

    return await api.read(work)


@router.get("/triage/models", response_model=list[ModelRead])
async def list_models(api: Api) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        queries.require_staff_reader(actor)
        return [
            ModelRead.model_validate(m).model_dump(mode="json")
            for m in queries.list_models(session)
        ]

    return await api.read(work)
