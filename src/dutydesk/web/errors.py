"""Errors of web pages as HTML: the API's problem-details handlers stay for API routes, and
each is wrapped so that a web route gets a page instead. Not-found and forbidden pages say
nothing about what was asked for; a 500 page says nothing about the cause."""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from dutydesk.web.context import (
    SESSION_COOKIE,
    CsrfRefused,
    SignInRequired,
    clear_session_cookie,
)
from dutydesk.web.render import render
from dutydesk.web.security import DEFAULTS

NOT_WEB = ("/api/", "/v2/", "/integrations/", "/metrics", "/healthz")
Handler = Callable[[Request, Any], Response | Awaitable[Response]]

# Fixed texts: these pages never repeat what the request named (an incident number, a user).
FIXED = {
    403: ("You do not have access", "This page is not available to your account."),
    404: (
        "Page not found",
        "There is nothing here, or it is not available to your account. Check the address.",
    ),
    405: ("Not possible here", "This page cannot be used that way."),
    500: (
        "Something went wrong",
        "Something went wrong on our side. It was logged; please try again in a moment.",
    ),
}


def is_web_path(path: str) -> bool:
    return path != "/metrics" and not path.startswith(NOT_WEB)


def error_page(
    request: Request,
    status: int,
    heading: str,
    message: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    context = {"heading": heading, "message": message, "errors": errors or []}
    # a 500 leaves through Starlette's outermost middleware, past SecurityHeaders: add them
    crash = DEFAULTS if status >= 500 else {}
    all_headers = {**crash, "Cache-Control": "no-store", **(headers or {})}
    return render(request, None, "web/error.html", context, status=status, headers=all_headers)


def page_for_problem(request: Request, problem: Response) -> HTMLResponse:
    """The HTML page of an API problem-details response."""
    status = problem.status_code
    try:
        body = json.loads(bytes(problem.body))
    except ValueError:
        body = {}
    if status in FIXED or status >= 500:
        heading, message = FIXED.get(status, FIXED[500])
        if status == 503:
            heading, message = "Temporarily unavailable", "Please try again in a moment."
        errors: list[dict[str, Any]] = []
    else:
        heading = str(body.get("title") or "Request refused")
        message = str(body.get("detail") or "")
        errors = [e for e in body.get("errors", []) if isinstance(e, dict)]
    retry = problem.headers.get("retry-after")
    headers = {"Retry-After": retry} if retry else {}
    return error_page(request, status, heading, message, errors=errors, headers=headers)


def _html_for_web(api_handler: Handler) -> Handler:
    async def handler(request: Request, exc: Any) -> Response:
        response = api_handler(request, exc)
        if inspect.isawaitable(response):
            response = await response
        return page_for_problem(request, response) if is_web_path(request.url.path) else response

    return handler


def install_web_errors(app: FastAPI) -> None:
    """Call after ``kernel.problems.install_error_handlers``: wraps each of its handlers."""
    for cls, api_handler in list(app.exception_handlers.items()):
        app.add_exception_handler(cls, _html_for_web(api_handler))

    @app.exception_handler(SignInRequired)
    async def sign_in_required(request: Request, exc: SignInRequired) -> Response:
        target = f"/login?next={exc.next_url}" if exc.next_url not in ("", "/") else "/login"
        if request.headers.get("hx-request"):
            response = Response(status_code=200, headers={"HX-Redirect": target})
        else:
            response = Response(status_code=303, headers={"Location": target})
        response.headers["Cache-Control"] = "no-store"
        if SESSION_COOKIE in request.cookies:  # a dead session: forget its cookie
            clear_session_cookie(response)
        return response

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, _exc: CsrfRefused) -> Response:
        return error_page(
            request,
            403,
            "This form has expired",
            "The page was open too long or you signed in again elsewhere, so the form was "
            "refused and nothing was changed. Go back, reload the page and try again.",
        )
