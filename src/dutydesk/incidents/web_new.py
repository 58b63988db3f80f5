"""The agent's new-incident form (`/incidents/new`) for a phone call or a walk-in: caller look-up,
channel, references filtered by the caller's customer, the priority shown live from impact ×
urgency with the admin's matrix; saved through ``incidents.service.open_incident``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor
from dutydesk.incidents import queues, rules, service
from dutydesk.incidents.priority import missing_checklist_fields
from dutydesk.incidents.schemas import Channel, IncidentCreate
from dutydesk.kernel.errors import DomainError
from dutydesk.models import User
from dutydesk.web.context import Staff
from dutydesk.web.render import redirect, render

router = APIRouter(include_in_schema=False)
TEMPLATE = "incidents/new.html"
AGENT_CHANNELS = [c for c in Channel if c not in (Channel.api, Channel.monitoring, Channel.portal)]
FIELDS = tuple(IncidentCreate.model_fields)  # the form's inputs are the API's fields
INT_FIELDS = {f for f in FIELDS if f.endswith("_id")} | {"impact", "urgency"}
# The logging checklist names fields without "_id"; the form's inputs carry it.
CHECKLIST_TO_FORM = {
    "caller": "caller_id",
    "customer": "customer_id",
    "service": "service_id",
    "ci": "ci_id",
    "category": "category_id",
    "subcategory": "subcategory_id",
    "assignment_group": "assignment_group_id",
}


def caller_view(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {
        "id": user.id,
        "name": user.full_name or user.username,
        "email": user.email,
        "customer_id": user.customer_id,
    }


def form_view(session: Session, actor: Actor, values: dict[str, str]) -> dict[str, Any]:
    """The form's choices: references of the caller's customer (or of the chosen customer)."""
    options = queues.filter_options(session, actor)
    caller = None
    if values.get("caller_id", "").isdigit():
        found = session.get(User, int(values["caller_id"]))
        caller = caller_view(found) if found is not None and found.is_active else None
    customer = values.get("customer_id", "")
    if not customer and caller is not None and caller["customer_id"] is not None:
        customer = str(caller["customer_id"])
    if customer.isdigit():
        options["services"] = [
            o for o in options["services"] if o.parent_id in (None, int(customer))
        ]
    service_ids = {o.id for o in options["services"]}
    options["cis"] = [
        o for o in options["cis"] if o.parent_id is None or o.parent_id in service_ids
    ]
    matrix = rules.get_priority_matrix(session)
    return {
        "options": options,
        "caller": caller,
        "customer": customer,
        "levels": matrix.levels,
        "priority": _priority(matrix, values),
        "channels": AGENT_CHANNELS,
    }


def _priority(matrix: Any, values: dict[str, str]) -> int | None:
    impact, urgency = values.get("impact", ""), values.get("urgency", "")
    if impact.isdigit() and urgency.isdigit():
        i, u = int(impact), int(urgency)
        if 1 <= i <= matrix.levels and 1 <= u <= matrix.levels:
            return int(matrix.priority(i, u))
    return None


def checklist_gaps(session: Session, values: dict[str, str]) -> dict[str, str]:
    """The logging checklist's required fields left empty in the form (the service names
    them without `_id`: `caller` for `caller_id`)."""
    _matrix, required = rules.get_logging_rules(session)
    named: dict[str, str | None] = {
        k.removesuffix("_id"): v for k, v in values.items() if v.strip()
    }
    return {
        CHECKLIST_TO_FORM.get(name, name): "required by the logging checklist"
        for name in missing_checklist_fields(named, required)
    }


def incident_create(values: dict[str, str]) -> IncidentCreate:
    data: dict[str, Any] = {}
    for name in FIELDS:
        raw = values.get(name, "").strip() if name != "description" else values.get(name, "")
        if raw == "":
            continue
        data[name] = int(raw) if name in INT_FIELDS and raw.isdigit() else raw
    return IncidentCreate(**data)


async def _page(
    request: Request,
    user: Any,
    values: dict[str, str],
    *,
    errors: dict[str, str] | None = None,
    message: str = "",
    status: int = 200,
    block: str | None = None,
) -> HTMLResponse:
    context = await user.read(lambda s, a: form_view(s, a, values))
    context.update(values=values, errors=errors or {}, message=message)
    return render(request, user, TEMPLATE, context, status=status, block=block)


@router.get("/incidents/new", response_class=HTMLResponse)
async def new_incident(request: Request, user: Staff) -> HTMLResponse:
    values = {
        "channel": Channel.phone.value,
        **{k: v[:200] for k, v in request.query_params.items() if k in FIELDS},
    }
    return await _page(request, user, values)


@router.post("/incidents/new", response_class=HTMLResponse)
async def create(request: Request, user: Staff) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str) and k in FIELDS}
    try:
        body = incident_create(values)
    except ValidationError as exc:
        # Show the logging checklist's gaps too, not only the fields pydantic refused.
        errors = await user.read(lambda s, a: checklist_gaps(s, values))
        errors.update({str(e["loc"][-1]): e["msg"] for e in exc.errors() if e["loc"]})
        return await _page(
            request,
            user,
            values,
            errors=errors,
            message="Some of the values are not valid.",
            status=422,
        )

    def work(session: Session, actor: Actor) -> str:
        incident = service.open_incident(session, actor, body, settings=user.settings)
        session.flush()
        return incident.number

    try:
        number = await user.write(work)
    except DomainError as exc:
        if exc.status_code not in (404, 422):
            raise
        errors = {
            CHECKLIST_TO_FORM.get(str(e.get("field")), str(e.get("field"))): str(e.get("msg"))
            for e in exc.errors
        }
        return await _page(request, user, values, errors=errors, message=exc.detail, status=422)
    return redirect(request, f"/incidents/{number}", message=f"{number} logged.")


@router.get("/incidents/new/callers", response_class=HTMLResponse)
async def callers(
    request: Request, user: Staff, caller_q: Annotated[str, Query(max_length=100)] = ""
) -> HTMLResponse:
    """Callers matching the typed name or e-mail (at least two characters)."""
    text = caller_q.strip()
    found: list[dict[str, Any]] = []
    if len(text) >= 2:
        found = await user.read(
            lambda s, a: [v for u in queues.search_callers(s, a, text) if (v := caller_view(u))]
        )
    return render(request, user, "incidents/callers.html", {"callers": found, "q": text})


@router.get("/incidents/new/refresh", response_class=HTMLResponse)
async def refresh(request: Request, user: Staff) -> HTMLResponse:
    """The references and the priority again after the caller, customer, impact or urgency
    changed (HTMX swaps the `references` block)."""
    values = {k: v[:200] for k, v in request.query_params.items() if k in FIELDS}
    return await _page(request, user, values, block="references")
