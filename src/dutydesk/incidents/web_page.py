"""The agent's incident page (`/incidents/{number}`): header, SLA clocks, lifecycle buttons from
``lifecycle.allowed_actions``, details editable in place with If-Match (a conflict shows the
difference, never overwrites), the timeline, the composer, attachments and links.

Every form posts to a route here that calls the same services as the API; a refused form
renders the page again with the messages next to its fields (422), or the conflict (412)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor
from dutydesk.config import Settings
from dutydesk.incidents import (
    actions,
    checklist,
    collaboration,
    mentions,
    queries,
    queues,
    rules,
    service,
    timeline,
)
from dutydesk.incidents.api import attachment_response
from dutydesk.incidents.lifecycle import PENDING, Status, allowed_actions
from dutydesk.incidents.schemas import ActionRequest, IncidentPatch
from dutydesk.kernel.errors import DomainError, InvalidInput, PreconditionFailed
from dutydesk.models import Incident
from dutydesk.sla import queries as sla_queries
from dutydesk.web.context import Staff
from dutydesk.web.render import redirect, render

router = APIRouter(include_in_schema=False)
TEMPLATE = "incidents/incident.html"
# The details an agent edits in place, with their labels (IncidentPatch fields).
EDITABLE = {
    "short_description": "Short description",
    "description": "Description",
    "impact": "Impact",
    "urgency": "Urgency",
    "category_id": "Category",
    "subcategory_id": "Subcategory",
    "service_id": "Service",
    "ci_id": "Configuration item",
}
ID_FIELDS = {"category_id", "subcategory_id", "service_id", "ci_id", "impact", "urgency"}
NEEDS_INPUT = {"assign", "escalate", "pend", "resolve", "reopen", "cancel", "close"}
Text = Annotated[str, Form(max_length=40_000)]
Short = Annotated[str, Form(max_length=1000)]


@dataclass
class Problems:
    """What went wrong with a form, shown next to its fields when the page renders again."""

    form: str = ""  # edit | action:<name> | comment | attach | link
    message: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


def problems_of(form: str, exc: DomainError | ValidationError, values: dict[str, Any]) -> Problems:
    if isinstance(exc, ValidationError):
        fields = {str(e["loc"][-1]) if e["loc"] else "": e["msg"] for e in exc.errors()}
        return Problems(form, "Some of the values are not valid.", fields, values)
    fields = {str(e.get("field", "")): str(e.get("msg", "")) for e in exc.errors}
    return Problems(form, exc.detail, fields, values)


def _id_label(names: queues.Names, name: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    table = {
        "category_id": names.categories,
        "subcategory_id": names.categories,
        "service_id": names.services,
        "ci_id": names.cis,
    }.get(name)
    return table.get(int(value), str(value)) if table is not None else str(value)


def _names(
    session: Session, incident: Incident, extra: dict[str, Any] | None = None
) -> queues.Names:
    extra = extra or {}

    def ids(*names: str) -> list[int | None]:
        found: list[int | None] = [getattr(incident, n) for n in names]
        found += [int(extra[n]) for n in names if str(extra.get(n) or "").isdigit()]
        return found

    return queues.names_for(
        session,
        groups=[incident.assignment_group_id],
        users=[incident.caller_id, incident.assignee_id, incident.opened_by_id],
        customers=[incident.customer_id],
        services=ids("service_id"),
        cis=ids("ci_id"),
        categories=ids("category_id", "subcategory_id"),
    )


def duration(seconds: float) -> str:
    """'2 d 3 h', '3 h 5 min', '12 min' (rounded down to the minute)."""
    minutes = int(abs(seconds)) // 60
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins} min"
    return f"{mins} min"


def clock_row(view: dict[str, Any]) -> dict[str, Any]:
    """An SLA clock as the page shows it: the time left, or how long ago it was breached."""
    state, remaining = view["state"], view["remaining_seconds"]
    if state == "met":
        left = "met"
    elif state == "cancelled":
        left = "stopped"
    elif state == "breached" or remaining < 0:
        left = f"breached {duration(remaining)} ago" if remaining < 0 else "breached"
    elif state == "paused":
        left = f"paused, {duration(remaining)} left"
    else:
        left = f"{duration(remaining)} left"
    tone = {"breached": "bad", "warning": "warn", "met": "ok"}.get(state, "")
    if remaining < 0 and state not in ("met", "cancelled"):
        tone = "bad"
    return {**view, "left": left, "tone": tone}


def page_view(
    session: Session, actor: Actor, number: str, *, limit: int = timeline.PAGE
) -> dict[str, Any]:
    """Everything the incident page shows, read in one transaction."""
    incident = queries.get_incident_for(session, actor, number)
    names = _names(session, incident)
    entries, more = timeline.timeline(session, actor, incident, limit=limit)
    outcomes = checklist.status_of(session, incident)
    view = {
        "incident": incident,
        "names": names,
        "clocks": [clock_row(c) for c in sla_queries.clock_views(session, incident)],
        "actions": allowed_actions(Status(incident.state), actor.role),
        "needs_input": NEEDS_INPUT,
        "pending_states": sorted(PENDING),
        "manual_checks": [o for o in outcomes if o.item.kind == "manual"],
        "open_checks": [o for o in outcomes if not o.done],
        "entries": entries,
        "older_href": f"/incidents/{number}?limit={limit + timeline.PAGE}" if more else None,
        "attachments": queries.list_attachments(session, actor, incident),
        "links": queries.list_links(session, actor, incident),
        "options": queues.filter_options(session, actor),
        "levels": rules.get_priority_matrix(session).levels,
        "editable": EDITABLE,
        "current": {name: getattr(incident, name) for name in EDITABLE},
        "labels": {name: _id_label(names, name, getattr(incident, name)) for name in EDITABLE},
    }
    session.expunge_all()  # the template reads loaded rows after the transaction ends
    return view


async def show(
    request: Request,
    user: Any,
    number: str,
    *,
    problems: Problems | None = None,
    conflict: list[dict[str, Any]] | None = None,
    status: int = 200,
    limit: int = timeline.PAGE,
) -> HTMLResponse:
    context = await user.read(lambda s, a: page_view(s, a, number, limit=limit))
    context.update(problems=problems or Problems(), conflict=conflict)
    return render(request, user, TEMPLATE, context, status=status)


@router.get("/incidents/{number}", response_class=HTMLResponse)
async def incident_page(
    request: Request,
    user: Staff,
    number: str,
    limit: Annotated[int, Query(ge=1, le=10_000)] = timeline.PAGE,
) -> HTMLResponse:
    return await show(request, user, number, limit=limit)


# ---------------------------------------------------------------- edit in place


def changed_values(form: dict[str, str]) -> dict[str, Any]:
    """The fields the agent changed: their value differs from the one the page showed."""
    changed: dict[str, Any] = {}
    for name in EDITABLE:
        if name not in form:
            continue
        mine, seen = form[name].strip(), form.get(f"orig_{name}", "").strip()
        if name == "description":
            mine, seen = (
                form[name].replace("\r\n", "\n"),
                form.get(f"orig_{name}", "").replace("\r\n", "\n"),
            )
        if mine == seen:
            continue
        if name in ID_FIELDS:
            changed[name] = int(mine) if mine.isdigit() else (None if mine == "" else mine)
        else:
            changed[name] = mine
    return changed


def _conflict_rows(
    session: Session, actor: Actor, number: str, form: dict[str, str], mine: dict[str, Any]
) -> list[dict[str, Any]]:
    """Field by field: what the agent saw, what they typed, what the incident holds now."""
    incident = queries.get_incident_for(session, actor, number)
    names = _names(session, incident, {**form, **{f"orig_{k}": v for k, v in form.items()}})
    rows = []
    for name in EDITABLE:
        seen, now = form.get(f"orig_{name}", ""), getattr(incident, name)
        now_text = "" if now is None else str(now)
        if name in mine or seen.strip() != now_text.strip():
            rows.append(
                {
                    "field": name,
                    "label": EDITABLE[name],
                    "seen": _id_label(names, name, seen or None),
                    "yours": _id_label(names, name, mine[name]) if name in mine else None,
                    "current": _id_label(names, name, now),
                    "raw_yours": "" if mine.get(name) is None else str(mine[name]),
                    "raw_current": now_text,
                }
            )
    return rows


@router.post("/incidents/{number}/edit", response_class=HTMLResponse)
async def edit_incident(request: Request, user: Staff, number: str) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    version = form.get("version", "")
    try:
        mine = changed_values(form)
        patch = IncidentPatch(**mine)
    except ValidationError as exc:
        problems = problems_of("edit", exc, form)
        return await show(request, user, number, problems=problems, status=422)
    if not mine:
        return redirect(request, f"/incidents/{number}", message="Nothing changed.", kind="info")

    def work(session: Session, actor: Actor) -> None:
        incident = queries.get_incident_for(session, actor, number, for_update=True)
        service.check_version(incident, f'"{version}"', user.settings)
        service.amend_incident(session, actor, incident, patch)

    try:
        await user.write(work)
    except PreconditionFailed:
        rows = await user.read(lambda s, a: _conflict_rows(s, a, number, form, mine))
        return await show(request, user, number, conflict=rows, status=412)
    except (InvalidInput, DomainError) as exc:
        if exc.status_code not in (404, 422):
            raise
        return await show(
            request, user, number, problems=problems_of("edit", exc, form), status=422
        )
    return redirect(request, f"/incidents/{number}", message=f"{number} saved.")


# ---------------------------------------------------------------- lifecycle actions


def action_request(form: Any) -> ActionRequest:
    """The action form as the API's ActionRequest (blank fields are absent)."""
    values: dict[str, Any] = {}
    for name in ("reason", "resolution_code", "resolution_notes", "comment", "target"):
        if str(form.get(name, "")).strip():
            values[name] = str(form[name]).strip()
    for name in ("group_id", "assignee_id"):
        raw = str(form.get(name, "")).strip()
        if raw:
            values[name] = int(raw) if raw.isdigit() else raw
    fix = str(form.get("fix", ""))
    if fix in ("workaround", "permanent"):
        values["is_workaround"] = fix == "workaround"
    ticks = [str(v) for v in form.getlist("checklist")]
    if ticks:
        values["checklist"] = ticks
    return ActionRequest(**values)


@router.post("/incidents/{number}/actions/{action}", response_class=HTMLResponse)
async def act(request: Request, user: Staff, number: str, action: str) -> Response:
    form = await request.form()
    version = str(form.get("version", ""))
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        req = action_request(form)
    except ValidationError as exc:
        problems = problems_of(f"action:{action}", exc, values)
        return await show(request, user, number, problems=problems, status=422)

    def work(session: Session, actor: Actor) -> tuple[str, str]:
        incident = queries.get_incident_for(session, actor, number, for_update=True)
        actions.ensure_actor_may_act(actor, incident)
        service.check_version(incident, f'"{version}"', user.settings)
        result = actions.perform_action(
            session, actor, incident, action, req, settings=user.settings
        )
        session.flush()
        return result.number, result.state

    try:
        new_number, state = await user.write(work)
    except PreconditionFailed:
        message = (
            f"{number} changed since you opened it, so nothing was done. "
            "Look at the latest change below, then try again."
        )
        return redirect(request, f"/incidents/{number}", message=message, kind="warning")
    except DomainError as exc:
        if exc.status_code == 422 or (exc.status_code == 404 and exc.errors):
            problems = problems_of(f"action:{action}", exc, values)
            return await show(request, user, number, problems=problems, status=422)
        if exc.status_code in (404, 403):
            raise
        return redirect(request, f"/incidents/{number}", message=exc.detail, kind="error")
    label = action.replace("_", " ")
    if new_number != number:
        message = f"{number} was resolved too long ago to reopen: follow-up {new_number} opened."
        return redirect(request, f"/incidents/{new_number}", message=message)
    return redirect(
        request,
        f"/incidents/{number}",
        message=f"{label.capitalize()}: {number} is now {state.replace('_', ' ')}.",
    )


# ---------------------------------------------------------------- composer, files, links


@router.post("/incidents/{number}/comments", response_class=HTMLResponse)
async def comment(
    request: Request,
    user: Staff,
    number: str,
    body: Text = "",
    visibility: Annotated[str, Form(max_length=20)] = "work_note",
) -> Response:
    def work(session: Session, actor: Actor) -> mentions.Posted:
        incident = queries.get_incident_for(session, actor, number, for_update=True)
        return mentions.post_comment(session, user.settings, actor, incident, body, visibility)

    try:
        posted = await user.write(work)
    except DomainError as exc:
        if exc.status_code != 422:
            return redirect(request, f"/incidents/{number}", message=exc.detail, kind="error")
        values = {"body": body, "visibility": visibility}
        problems = problems_of("comment", exc, values)
        return await show(request, user, number, problems=problems, status=422)
    what = "Work note added." if visibility == "work_note" else "Public reply sent."
    if posted.told:
        what += " Told " + ", ".join(f"@{n}" for n in posted.told) + "."
    if posted.not_told:
        what += (
            " Not told (unknown or cannot see it): "
            + ", ".join(f"@{n}" for n in posted.not_told)
            + "."
        )
    return redirect(request, f"/incidents/{number}#timeline", message=what)


@router.get("/workspace/mentions", response_class=HTMLResponse)
async def mention_choices(
    request: Request, user: Staff, body: Annotated[str, Query(max_length=40_000)] = ""
) -> HTMLResponse:
    """The staff whose user name starts with the @word being typed at the end of `body`."""
    typed = body.rsplit("@", 1)[-1] if "@" in body else None
    people: list[dict[str, str]] = []
    if typed is not None and typed and len(typed) <= 80 and " " not in typed:
        people = await user.read(
            lambda s, a: [
                {"username": p.username, "name": p.full_name} for p in queues.search_staff(s, typed)
            ]
        )
    context = {"people": people}
    return render(request, user, "incidents/mentions.html", context)


@router.post("/incidents/{number}/attachments", response_class=HTMLResponse)
async def upload(
    request: Request,
    user: Staff,
    number: str,
    file: Annotated[UploadFile | None, File()] = None,
    visibility: Annotated[str, Form(max_length=20)] = "work_note",
) -> Response:
    settings: Settings = user.settings
    if file is None or not file.filename:
        problems = Problems("attach", "Choose a file first.", {"file": "no file chosen"})
        return await show(request, user, number, problems=problems, status=422)
    data = await file.read(settings.max_attachment_bytes + 1)
    filename = file.filename

    def work(session: Session, actor: Actor) -> str:
        incident = queries.get_incident_for(session, actor, number, for_update=True)
        return collaboration.attach_file(
            session,
            actor,
            incident,
            filename=filename,
            data=data,
            visibility=visibility,
            storage_dir=settings.storage_dir,
            max_bytes=settings.max_attachment_bytes,
        ).filename

    try:
        stored = await user.write(work)
    except DomainError as exc:
        if exc.status_code in (404, 403):
            raise
        problems = Problems("attach", exc.detail, {"file": exc.detail})
        return await show(request, user, number, problems=problems, status=exc.status_code)
    return redirect(request, f"/incidents/{number}#files", message=f"{stored} attached.")


@router.get("/incidents/{number}/files/{attachment_id}")
async def download(user: Staff, number: str, attachment_id: int) -> Response:
    found = await user.read(
        lambda s, a: queries.get_attachment_file_for(s, a, number, attachment_id)
    )
    return attachment_response(user.settings.storage_dir, *found)


@router.post("/incidents/{number}/links", response_class=HTMLResponse)
async def add_link(
    request: Request,
    user: Staff,
    number: str,
    other: Annotated[str, Form(max_length=40)] = "",
    kind: Annotated[str, Form(max_length=20)] = "related",
    remove: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    other = other.strip().upper()

    def work(session: Session, actor: Actor) -> None:
        if not other:
            raise InvalidInput("give an incident number", errors=[{"field": "other"}])
        if kind not in ("related", "duplicate_of", "caused_by"):
            raise InvalidInput("unknown link kind", errors=[{"field": "kind", "msg": "unknown"}])
        incident = queries.get_incident_for(session, actor, number, for_update=True)
        try:
            target = queries.get_incident_for(session, actor, other, for_update=True)
        except DomainError as exc:
            raise InvalidInput(exc.detail, errors=[{"field": "other", "msg": "not found"}]) from exc
        if remove:
            collaboration.unlink_incidents(session, actor, incident, target, kind)
        else:
            collaboration.link_incidents(session, actor, incident, target, kind)

    try:
        await user.write(work)
    except DomainError as exc:
        if remove:
            return redirect(request, f"/incidents/{number}#links", message=exc.detail, kind="error")
        if exc.status_code in (404, 403) and not exc.errors:
            raise
        problems = problems_of("link", exc, {"other": other, "kind": kind})
        return await show(request, user, number, problems=problems, status=422)
    done = "Unlinked from" if remove else "Linked to"
    return redirect(request, f"/incidents/{number}#links", message=f"{done} {other}.")
