"""REST endpoints for closure: the checklist (admin and per incident), the satisfaction
survey, and the requester's e-mailed links answered by API clients (no login)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from dutydesk.access.deps import Api
from dutydesk.access.policy import Actor, require_admin, require_staff
from dutydesk.incidents import by_link, checklist, confirmation, queries
from dutydesk.incidents.api import present
from dutydesk.incidents.schemas import (
    ChecklistItemRead,
    ClosureCheckPatch,
    ClosureCheckRead,
    ClosureCheckWrite,
    IncidentRead,
    LinkConfirmation,
    LinkSurvey,
    SurveyAnswer,
)
from dutydesk.models import ClosureCheck

router = APIRouter(prefix="/api/v1", tags=["closure"])


def _check(row: ClosureCheck) -> dict[str, Any]:
    return ClosureCheckRead.model_validate(row).model_dump(mode="json")


@router.get("/admin/closure-checks", response_model=list[ClosureCheckRead], tags=["admin"])
async def list_closure_checks(api: Api) -> list[dict[str, Any]]:
    """The closure checklist, active items and not (agents read it; admins edit it)."""

    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        require_staff(actor)
        return [_check(row) for row in checklist.all_checks(session)]

    return await api.read(work)


@router.post(
    "/admin/closure-checks", status_code=201, response_model=ClosureCheckRead, tags=["admin"]
)
async def create_closure_check(body: ClosureCheckWrite, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        return _check(checklist.create_check(session, actor, body.model_dump()))

    return await api.write(work)


@router.patch("/admin/closure-checks/{check_id}", response_model=ClosureCheckRead, tags=["admin"])
async def patch_closure_check(check_id: int, body: ClosureCheckPatch, api: Api) -> dict[str, Any]:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        require_admin(actor)
        row = checklist.get_check(session, check_id)
        values = body.model_dump(exclude_unset=True)
        return _check(checklist.update_check(session, actor, row, values))

    return await api.write(work)


@router.delete("/admin/closure-checks/{check_id}", status_code=204, tags=["admin"])
async def delete_closure_check(check_id: int, api: Api) -> Response:
    def work(session: Session, actor: Actor) -> None:
        require_admin(actor)
        checklist.delete_check(session, actor, checklist.get_check(session, check_id))

    await api.write(work)
    return Response(status_code=204)


@router.get("/incidents/{number}/closure-checklist", response_model=list[ChecklistItemRead])
async def incident_checklist(number: str, api: Api) -> list[dict[str, Any]]:
    """The active closure checklist as it stands for this incident."""

    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        incident = queries.get_incident_for(session, actor, number)
        return [
            ChecklistItemRead(
                key=o.item.key,
                label=o.item.label,
                kind=o.item.kind,
                field=o.item.field,
                done=o.done,
            ).model_dump(mode="json")
            for o in checklist.status_of(session, incident)
        ]

    return await api.read(work)


@router.post("/incidents/{number}/survey", response_model=IncidentRead)
async def answer_survey(number: str, body: SurveyAnswer, api: Api) -> dict[str, Any]:
    """The caller rates the handling of their closed incident (once)."""

    def work(session: Session, actor: Actor) -> dict[str, Any]:
        incident = queries.get_incident_for(session, actor, number, for_update=True)
        confirmation.give_feedback(session, actor, incident, body.rating, body.comment)
        session.flush()
        return present(incident, actor, session)

    return await api.write(work)


@router.post("/links/confirmation", tags=["links"])
async def confirm_by_link(body: LinkConfirmation, api: Api) -> dict[str, Any]:
    """Answer a resolution with the token of the e-mailed link (no login)."""

    def work(session: Session) -> dict[str, Any]:
        result = by_link.answer_by_link(
            session,
            api.settings,
            body.number,
            body.token,
            accept=body.answer == "confirm",
            reason=body.reason,
        )
        session.flush()
        return {
            "number": result.number,
            "state": result.state,
            "follow_up_of": _origin(body, result),
        }

    return await api.anonymous_write(work)


def _origin(body: LinkConfirmation, result: Any) -> str | None:
    return body.number if result.number != body.number else None


@router.post("/links/survey", tags=["links"])
async def survey_by_link(body: LinkSurvey, api: Api) -> dict[str, Any]:
    """Rate a closed incident with the token of the e-mailed survey link (no login)."""

    def work(session: Session) -> dict[str, Any]:
        incident = by_link.feedback_by_link(
            session, api.settings, body.number, body.token, body.rating, body.comment
        )
        session.flush()
        return {"number": incident.number, "csat_rating": incident.csat_rating}

    return await api.anonymous_write(work)
