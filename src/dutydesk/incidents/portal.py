"""The self-service portal: a requester submits an incident or a request, follows their own
records (and their organization's when it shares them), replies, attaches files, confirms or
rejects a resolution and rates the handling. Every write goes through the same services as
the API and the e-mailed links; the pages show the public conversation only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor
from dutydesk.incidents import (
    by_link,
    collaboration,
    confirmation,
    portal_queries,
    queries,
    rules,
    service,
)
from dutydesk.incidents.lifecycle import TERMINAL, Status, allowed_actions
from dutydesk.incidents.portal_rules import (
    URGENCY_LABELS,
    Kind,
    UrgencyChoice,
    badge_of,
    kind_of,
    plain_status,
    progress,
    status_label,
    urgency_level,
)
from dutydesk.incidents.schemas import Channel, IncidentCreate
from dutydesk.kernel.errors import DomainError, InvalidInput, NotFound, PayloadTooLarge
from dutydesk.models import Incident
from dutydesk.routing import requests
from dutydesk.web.context import SignedIn, WebUser
from dutydesk.web.render import redirect, render

router = APIRouter(prefix="/portal", include_in_schema=False)
T = TypeVar("T")
Files = Annotated[list[UploadFile] | None, File()]
MAX_FILES = 5
# The form's names of the service's fields; the others are named in the form's alert.
FORM_FIELDS = {
    "short_description": "short_description",
    "description": "description",
    "service_id": "service",
    "service": "service",
    "urgency": "urgency",
    "file": "files",
    "body": "body",
    "reason": "reason",
    "rating": "rating",
    "comment": "comment",
}


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value is not None else ""


@dataclass(frozen=True)
class Row:
    number: str
    short_description: str
    kind: str
    status: str
    badge: str
    updated: str


def _row(incident: Incident) -> Row:
    status = Status(incident.state)
    return Row(
        incident.number,
        incident.short_description,
        kind_of(incident.is_service_request).value,
        status_label(status),
        badge_of(status),
        _when(incident.updated_at),
    )


def _field_errors(exc: DomainError) -> tuple[dict[str, str], list[str]]:
    """The service's errors next to the form's fields; the rest in the form's alert."""
    by_field: dict[str, str] = {}
    other: list[str] = []
    if isinstance(exc, PayloadTooLarge):  # a file over the limit
        by_field["files"] = exc.detail[:1].upper() + exc.detail[1:] + "."
    for error in exc.errors:
        name = str(error.get("field", ""))
        message = str(error.get("msg", "not valid"))
        if name in FORM_FIELDS:
            by_field.setdefault(FORM_FIELDS[name], message[:1].upper() + message[1:] + ".")
        else:
            other.append(f"{name.replace('_id', '').replace('_', ' ')}: {message}")
    return by_field, other


def _pydantic_errors(exc: ValidationError) -> dict[str, str]:
    return {
        FORM_FIELDS.get(str(err["loc"][0]), str(err["loc"][0])): err["msg"] + "."
        for err in exc.errors()
        if err["loc"]
    }


async def _uploads(files: list[UploadFile] | None, limit: int) -> list[tuple[str, bytes]]:
    """The chosen files (a form without a choice sends one empty, nameless part)."""
    chosen = []
    for upload in files or []:
        data = await upload.read(limit + 1)
        if upload.filename or data:
            chosen.append((upload.filename or "attachment", data))
    if len(chosen) > MAX_FILES:
        raise InvalidInput(
            "too many files", errors=[{"field": "file", "msg": f"at most {MAX_FILES} at a time"}]
        )
    return chosen


def _attach_all(
    session: Session,
    actor: Actor,
    user: WebUser,
    incident: Incident,
    chosen: list[tuple[str, bytes]],
) -> None:
    for filename, data in chosen:
        collaboration.attach_file(
            session,
            actor,
            incident,
            filename=filename,
            data=data,
            visibility="public",
            storage_dir=user.settings.storage_dir,
            max_bytes=user.settings.max_attachment_bytes,
        )


# ---------------------------------------------------------------- home


@router.get("", response_class=HTMLResponse)
async def home(request: Request, user: SignedIn, tab: str = "mine") -> HTMLResponse:
    if tab not in ("mine", "organization") or (
        tab == "organization" and not user.actor.customer_shares
    ):
        raise NotFound("there is no such tab")

    def work(session: Session, actor: Actor) -> dict[str, Any]:
        if tab == "organization":
            return {"shared": [_row(i) for i in portal_queries.list_organization(session, actor)]}
        active = portal_queries.list_own(session, actor, active=True)
        ended = portal_queries.list_own(session, actor, active=False, limit=10)
        return {"active": [_row(i) for i in active], "ended": [_row(i) for i in ended]}

    context = {"tab": tab, "shares": user.actor.customer_shares, **await user.read(work)}
    return render(request, user, "portal/home.html", context)


# ---------------------------------------------------------------- submit


def _form_context(
    user: WebUser, kind: Kind, services: list[dict[str, Any]], values: dict[str, str]
) -> dict[str, Any]:
    return {
        "kind": kind.value,
        "services": services,
        "urgencies": [(choice.value, label) for choice, label in URGENCY_LABELS.items()],
        "values": {
            "short_description": "",
            "description": "",
            "service": "",
            "urgency": UrgencyChoice.workaround.value,
            **values,
        },
        "errors": {},
        "problems": [],
        "max_mb": max(1, user.settings.max_attachment_bytes // 1_000_000),
    }


async def _services(user: WebUser) -> list[dict[str, Any]]:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        found = portal_queries.list_offered_services(session, actor.customer_id)
        return [{"id": s.id, "name": s.name} for s in found]

    return await user.read(work)


def _kind(raw: str) -> Kind:
    try:
        return Kind(raw)
    except ValueError as exc:
        raise NotFound("there is no such kind of record") from exc


@router.get("/new", response_class=HTMLResponse)
async def new_form(request: Request, user: SignedIn, kind: str = "incident") -> HTMLResponse:
    context = _form_context(user, _kind(kind), await _services(user), {})
    return render(request, user, "portal/new.html", context)


@router.post("/new", response_class=HTMLResponse)
async def submit(
    request: Request,
    user: SignedIn,
    kind: Annotated[str, Form(max_length=20)] = "incident",
    short_description: Annotated[str, Form(max_length=1000)] = "",
    description: Annotated[str, Form(max_length=40_000)] = "",
    service_id: Annotated[str, Form(alias="service", max_length=20)] = "",
    urgency: Annotated[str, Form(max_length=20)] = "",
    files: Files = None,
) -> Response:
    chosen_kind = _kind(kind)
    values = {
        "short_description": short_description,
        "description": description,
        "service": service_id,
        "urgency": urgency,
    }
    errors: dict[str, str] = {}
    problems: list[str] = []
    status = 422
    data: IncidentCreate | None = None
    choice: UrgencyChoice | None = None
    try:
        choice = UrgencyChoice(urgency)
    except ValueError:
        errors["urgency"] = "Choose how much it affects your work."
    if service_id and not service_id.isdigit():
        errors["service"] = "Choose a service from the list."
    try:
        data = IncidentCreate(
            short_description=short_description.strip(),
            description=description.strip(),
            service_id=int(service_id) if service_id.isdigit() else None,
            channel=Channel.portal,
        )
    except ValidationError as exc:
        errors.update(_pydantic_errors(exc))
    try:
        chosen = await _uploads(files, user.settings.max_attachment_bytes)
    except InvalidInput as exc:
        errors.update(_field_errors(exc)[0])
        chosen = []
    if not errors and data is not None and choice is not None:
        valid, level = data, choice

        def work(session: Session, actor: Actor) -> str:
            levels = rules.get_priority_matrix(session).levels
            # The requester says how urgent it is; impact starts at the lowest level, as for
            # mail, and the desk raises it in triage (PRI-2).
            create = valid.model_copy(
                update={"urgency": urgency_level(level, levels), "impact": levels}
            )
            incident = service.open_incident(session, actor, create, settings=user.settings)
            if chosen_kind == Kind.request:
                requests.flag_requested_by_caller(session, actor, incident)
            session.flush()
            _attach_all(session, actor, user, incident, chosen)
            return incident.number

        try:
            number = await user.write(work)
        except DomainError as exc:
            errors, problems = _field_errors(exc)
            status = 422 if isinstance(exc, NotFound) else exc.status_code  # a field's reference
            if not errors and not problems:
                problems = [exc.detail]
        else:
            what = "request" if chosen_kind == Kind.request else "problem report"
            message = f"Thank you. Your {what} is logged as {number}; we will keep you posted."
            return redirect(request, f"/portal/incidents/{number}", message=message)
    context = _form_context(user, chosen_kind, await _services(user), values)
    context.update(errors=errors, problems=problems)
    return render(request, user, "portal/new.html", context, status=status)


# ---------------------------------------------------------------- one record


def _record(session: Session, actor: Actor, incident: Incident) -> dict[str, Any]:
    status = Status(incident.state)
    actions = allowed_actions(status, actor.role)
    is_caller = actor.user_id in (incident.caller_id, incident.opened_by_id)
    return {
        "number": incident.number,
        "short_description": incident.short_description,
        "description": incident.description,
        "kind": kind_of(incident.is_service_request).value,
        "service": portal_queries.service_name(session, incident.service_id),
        "opened": _when(incident.opened_at),
        "updated": _when(incident.updated_at),
        "status": plain_status(status),
        "badge": badge_of(status),
        "label": status_label(status),
        "steps": progress(status),
        "resolution_notes": incident.resolution_notes or "",
        "resolved": _when(incident.resolved_at),
        "conversation": portal_queries.list_conversation(session, actor, incident),
        "can_reply": status not in TERMINAL and status != Status.resolved,
        "can_answer": is_caller and "confirm" in actions and "reopen" in actions,
        "can_rate": status == Status.closed
        and actor.user_id == incident.caller_id
        and incident.csat_rating is None,
        "rating": incident.csat_rating,
        "rating_comment": incident.csat_comment or "",
        "ended": status in TERMINAL,
    }


async def _record_page(
    request: Request,
    user: SignedIn,
    number: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    problem: str = "",
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        return _record(session, actor, queries.get_incident_for(session, actor, number))

    context = await user.read(work)
    context.update(
        errors=errors or {},
        problem=problem,
        values={"body": "", "reason": "", "rating": "", "comment": "", **(values or {})},
    )
    return render(request, user, "portal/incident.html", context, status=status)


async def _refused(
    request: Request, user: WebUser, number: str, exc: DomainError, values: dict[str, str]
) -> HTMLResponse:
    errors, other = _field_errors(exc)
    problem = "; ".join(other) if other else ("" if errors else exc.detail)
    return await _record_page(
        request, user, number, status=exc.status_code, errors=errors, problem=problem, values=values
    )


@router.get("/incidents/{number}", response_class=HTMLResponse)
async def record(request: Request, user: SignedIn, number: str) -> HTMLResponse:
    return await _record_page(request, user, number)


async def _on_record(
    request: Request,
    user: WebUser,
    number: str,
    change: Callable[[Session, Actor, Incident], T],
    values: dict[str, str],
) -> T | HTMLResponse:
    """One write on a record the user may see; a refusal re-renders the record page with the
    messages next to the fields (a record the user may not see stays a 404 page)."""

    def work(session: Session, actor: Actor) -> T:
        incident = queries.get_incident_for(session, actor, number, for_update=True)
        return change(session, actor, incident)

    try:
        return await user.write(work)
    except NotFound:
        raise
    except DomainError as exc:
        return await _refused(request, user, number, exc, values)


@router.post("/incidents/{number}/reply", response_class=HTMLResponse)
async def reply(
    request: Request,
    user: SignedIn,
    number: str,
    body: Annotated[str, Form(max_length=32_000)] = "",
    files: Files = None,
) -> Response:
    values = {"body": body}
    try:
        chosen = await _uploads(files, user.settings.max_attachment_bytes)
    except InvalidInput as exc:
        return await _refused(request, user, number, exc, values)

    def change(session: Session, actor: Actor, incident: Incident) -> None:
        if not body.strip() and not chosen:
            raise InvalidInput(
                "nothing to send", errors=[{"field": "body", "msg": "write a reply or add a file"}]
            )
        if Status(incident.state) == Status.resolved:
            raise InvalidInput(
                "answer the resolution first",
                errors=[{"field": "body", "msg": "confirm the fix or tell us it is not fixed"}],
            )
        if body.strip():
            collaboration.add_comment(
                session, actor, incident, body.strip(), "public", settings=user.settings
            )
        _attach_all(session, actor, user, incident, chosen)

    refused = await _on_record(request, user, number, change, values)
    if refused is not None:
        return refused
    sent = "Your reply was sent." if body.strip() else "Your file was added."
    return redirect(request, f"/portal/incidents/{number}", message=sent)


@router.post("/incidents/{number}/answer", response_class=HTMLResponse)
async def answer(
    request: Request,
    user: SignedIn,
    number: str,
    answer: Annotated[str, Form(max_length=10)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    if answer not in ("confirm", "reject"):
        raise InvalidInput("answer is 'confirm' or 'reject'")
    accept = answer == "confirm"

    def change(session: Session, actor: Actor, incident: Incident) -> str:
        result = by_link.answer_resolution(
            session, user.settings, actor, incident, accept=accept, reason=reason, via="the portal"
        )
        session.flush()
        return result.number

    new_number = await _on_record(request, user, number, change, {"reason": reason})
    if isinstance(new_number, HTMLResponse):
        return new_number
    if accept:
        message = f"Thank you for confirming. {number} is closed."
    elif new_number != number:
        message = (
            f"{number} was resolved too long ago to reopen, so we opened {new_number} "
            "to look at it again."
        )
    else:
        message = f"Sorry it is not fixed. {number} is open again and back with the service desk."
    return redirect(request, f"/portal/incidents/{new_number}", message=message)


@router.post("/incidents/{number}/rating", response_class=HTMLResponse)
async def rate(
    request: Request,
    user: SignedIn,
    number: str,
    rating: Annotated[str, Form(max_length=2)] = "",
    comment: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    value: Any = int(rating) if rating.isdigit() else None

    def change(session: Session, actor: Actor, incident: Incident) -> None:
        confirmation.give_feedback(session, actor, incident, value, comment)

    refused = await _on_record(
        request, user, number, change, {"rating": rating, "comment": comment}
    )
    if refused is not None:
        return refused
    return redirect(request, f"/portal/incidents/{number}", message="Thank you for your rating.")


@router.get("/incidents/{number}/files/{attachment_id}")
async def download(request: Request, user: SignedIn, number: str, attachment_id: int) -> Response:
    """A public file of a record the user may see, always as a download."""

    def work(session: Session, actor: Actor) -> tuple[str, str, str]:
        incident = queries.get_incident_for(session, actor, number)
        found = queries.get_attachment_for(session, actor, incident, attachment_id)
        if found.visibility != "public":  # staff reach internal files in the workspace only
            raise NotFound(f"attachment {attachment_id} not found")
        return found.storage_name, found.filename, found.content_type

    storage_name, filename, content_type = await user.read(work)
    path = user.settings.storage_dir / storage_name
    if not path.is_file():
        raise NotFound("the file is missing from storage")
    quoted = quote(filename)
    return FileResponse(
        path,
        media_type="application/octet-stream"
        if content_type in collaboration.ACTIVE_TYPES or content_type.startswith("text/html")
        else content_type,
        headers={
            "Content-Disposition": f"attachment; filename=\"{quoted}\"; filename*=UTF-8''{quoted}",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )
