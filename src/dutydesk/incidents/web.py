"""The requester's pages behind the e-mailed links: confirm or reject a resolution, rate the
handling. No login: the signed link is the authority (``incidents.confirmation``).

Opening a link only shows a form, so mail scanners that prefetch links change nothing; the
answer is the form's POST. The token sits in the URL, so the pages send no referrer and are
never cached.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from dutydesk.access.deps import Api
from dutydesk.incidents import by_link
from dutydesk.incidents.confirmation import Purpose, check_link
from dutydesk.kernel.errors import DomainError
from dutydesk.web.context import check_anon_csrf
from dutydesk.web.render import render

# The answer forms carry the visitor's double-submit CSRF token besides the signed link.
router = APIRouter(include_in_schema=False, dependencies=[Depends(check_anon_csrf)])
HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}  # the token is in the URL
Token = Annotated[str, Query(alias="t", max_length=1000)]
FormToken = Annotated[str, Form(alias="t", max_length=1000)]


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    return render(request, None, name, context, status=status, headers=HEADERS)


def _failure(request: Request, exc: DomainError, heading: str) -> HTMLResponse:
    context = {"heading": heading, "message": exc.detail, "failed": True}
    return _page(request, "incidents/link_result.html", context, exc.status_code)


async def _read(api: Api, fn: Any) -> Any:
    def run() -> Any:
        with api.runtime.db.unit_of_work(write=False) as session:
            return fn(session)

    return await anyio.to_thread.run_sync(run)


def _confirm_form(number: str, token: str, incident: Any) -> dict[str, Any]:
    return {
        "number": number,
        "token": token,
        "short_description": incident.short_description,
        "resolution_notes": incident.resolution_notes,
        "resolved_at": f"{incident.resolved_at:%Y-%m-%d %H:%M} UTC" if incident.resolved_at else "",
    }


@router.get("/confirm/{number}", response_class=HTMLResponse)
async def confirm_page(
    request: Request, number: str, api: Api, t: Token = "", answer: str = "yes"
) -> HTMLResponse:
    def work(session: Session) -> dict[str, Any]:
        link = check_link(session, api.settings, number, t, Purpose.confirm)
        return _confirm_form(number, t, link.incident)

    try:
        context = await _read(api, work)
    except DomainError as exc:
        return _failure(request, exc, "This link cannot be used")
    context.update(answer="reject" if answer == "no" else "confirm", reason="", problem=None)
    return _page(request, "incidents/confirm.html", context)


@router.post("/confirm/{number}", response_class=HTMLResponse)
async def confirm_answer(
    request: Request,
    number: str,
    api: Api,
    t: FormToken,
    answer: Annotated[str, Form(max_length=10)] = "confirm",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> HTMLResponse:
    accept = answer != "reject"

    def work(session: Session) -> tuple[str, str]:
        result = by_link.answer_by_link(
            session, api.settings, number, t, accept=accept, reason=reason
        )
        session.flush()
        return result.number, result.state

    try:
        new_number, state = await api.anonymous_write(work)
    except DomainError as exc:
        if exc.status_code == 422:  # the reason is missing: show the form again

            def again(session: Session) -> dict[str, Any]:
                link = check_link(session, api.settings, number, t, Purpose.confirm)
                return _confirm_form(number, t, link.incident)

            try:
                context = await _read(api, again)
            except DomainError as gone:
                return _failure(request, gone, "This link cannot be used")
            context.update(answer="reject", reason=reason, problem=exc.detail)
            return _page(request, "incidents/confirm.html", context, 422)
        return _failure(request, exc, "Your answer could not be taken")
    if accept:
        message = f"Thank you. {number} is closed."
    elif new_number != number:
        message = (
            f"Thank you. {number} was resolved too long ago to reopen, so we opened "
            f"{new_number} to look at it again."
        )
    else:
        message = f"Thank you. {number} is open again ({state.replace('_', ' ')}); we are on it."
    context = {"heading": "Answer received", "message": message, "failed": False}
    return _page(request, "incidents/link_result.html", context)


@router.get("/survey/{number}", response_class=HTMLResponse)
async def survey_page(
    request: Request, number: str, api: Api, t: Token = "", rating: int | None = None
) -> HTMLResponse:
    def work(session: Session) -> dict[str, Any]:
        link = check_link(session, api.settings, number, t, Purpose.survey)
        return {"number": number, "token": t, "short_description": link.incident.short_description}

    try:
        context = await _read(api, work)
    except DomainError as exc:
        return _failure(request, exc, "This link cannot be used")
    context.update(rating=rating, comment="", problem=None)
    return _page(request, "incidents/survey.html", context)


@router.post("/survey/{number}", response_class=HTMLResponse)
async def survey_answer(
    request: Request,
    number: str,
    api: Api,
    t: FormToken,
    rating: Annotated[str, Form(max_length=2)] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> HTMLResponse:
    value: Any = int(rating) if rating.isdigit() else None

    def work(session: Session) -> None:
        by_link.feedback_by_link(session, api.settings, number, t, value, comment)

    try:
        await api.anonymous_write(work)
    except DomainError as exc:
        if exc.status_code == 422:
            context = {
                "number": number,
                "token": t,
                "short_description": "",
                "rating": value,
                "comment": comment,
                "problem": "Choose a rating from 1 to 5.",
            }
            return _page(request, "incidents/survey.html", context, 422)
        return _failure(request, exc, "Your answer could not be taken")
    context = {"heading": "Thank you", "message": "Your rating was recorded.", "failed": False}
    return _page(request, "incidents/link_result.html", context)
