"""The start page sends each visitor where they work; `/queues` is a minimal placeholder
until the agent workspace replaces it (the portal is `incidents.portal`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dutydesk.web.context import Staff, current_user
from dutydesk.web.render import render

router = APIRouter(include_in_schema=False)


@router.get("/")
async def start(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse("/queues" if user.is_staff else "/portal", status_code=303)


@router.get("/queues", response_class=HTMLResponse)
async def queues(request: Request, user: Staff) -> HTMLResponse:
    context = {"heading": "Queues", "text": "The agent workspace comes here."}
    return render(request, user, "web/placeholder.html", context, block="content")
