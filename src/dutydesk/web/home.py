"""The start page sends each visitor where they work: staff to the workspace's queues
(`incidents/web_queues.py`), requesters to the self-service portal (`incidents/portal.py`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from dutydesk.web.context import current_user

router = APIRouter(include_in_schema=False)


@router.get("/")
async def start(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse("/queues" if user.is_staff else "/portal", status_code=303)
