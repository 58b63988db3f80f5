"""The signed-in user's own notification preferences page (`/account/notifications`): one
checkbox per event and personal channel, saved through ``notify.service.set_preference``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor
from dutydesk.kernel.errors import InvalidInput
from dutydesk.notify import queries, service
from dutydesk.web.context import SignedIn
from dutydesk.web.render import redirect, render

router = APIRouter(include_in_schema=False)
PREFIX = "pref:"
LABELS = {
    "assigned": "An incident is assigned to me or to one of my groups",
    "public_reply": "Someone replies publicly on an incident I follow",
    "state_changed": "An incident I follow changes state",
    "sla_warning": "An SLA is about to be breached",
    "sla_breached": "An SLA was breached",
    "escalated": "An incident is escalated to me",
    "resolved": "My incident is resolved (with the links to confirm or reject)",
    "closed": "My incident is closed (with the satisfaction survey)",
    "mentioned": "An agent mentions me (@my-user-name) in a note or reply",
    "weekly_report": "The weekly KPI report",
}
CHANNELS = {"email": "E-mail"}


def _rows(session: Session, actor: Actor) -> list[dict[str, Any]]:
    return [
        {
            "field": f"{PREFIX}{view.event}:{view.channel}",
            "label": LABELS.get(view.event, view.event.replace("_", " ")),
            "channel": CHANNELS.get(view.channel, view.channel),
            "enabled": view.enabled,
            "is_default": view.is_default,
        }
        for view in queries.list_preferences(session, service.own_user_id(actor))
    ]


@router.get("/account/notifications", response_class=HTMLResponse)
async def preferences_page(request: Request, user: SignedIn) -> HTMLResponse:
    rows = await user.read(_rows)
    return render(request, user, "notify/preferences.html", {"rows": rows})


@router.post("/account/notifications")
async def save_preferences(request: Request, user: SignedIn) -> Response:
    form = await request.form()
    chosen = {key for key in form if key.startswith(PREFIX)}

    def work(session: Session, actor: Actor) -> int:
        user_id = service.own_user_id(actor)
        views = queries.list_preferences(session, user_id)
        known = {f"{PREFIX}{v.event}:{v.channel}" for v in views}
        unknown = sorted(chosen - known)
        if unknown:
            raise InvalidInput(
                "the form names notifications that do not exist",
                errors=[{"field": key, "msg": "unknown notification"} for key in unknown[:10]],
            )
        changed = 0
        for view in views:
            wanted = f"{PREFIX}{view.event}:{view.channel}" in chosen
            if wanted != view.enabled:
                service.set_preference(session, actor, user_id, view.event, view.channel, wanted)
                changed += 1
        return changed

    changed = await user.write(work)
    message = "Notification preferences saved." if changed else "Nothing changed."
    return redirect(request, "/account/notifications", message=message)
