"""The start page sends each visitor where they work; `/portal` is a minimal placeholder until
the self-service portal replaces it (`/queues` is the workspace: `incidents/web_queues.py`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dutydesk.web.context import SignedIn, current_user
from dutydesk.web.render import render

router = APIRouter(include_in_schema=False)


@router.get("/")
async def start(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse("/queues" if user.is_staff else "/portal", status_code=303)


@router.get("/portal", response_class=HTMLResponse)
async def portal(request: Request, user: SignedIn) -> HTMLResponse:
    context = {"heading": "My requests", "text": "The self-service portal comes here."}
    return render(request, user, "web/placeholder.html", context, block="content")
