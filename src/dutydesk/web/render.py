"""Rendering web pages: one Jinja2 environment (autoescaped), the common context every page
gets (user, CSRF token, navigation, flash messages), HTMX fragments as named blocks of the
same template, and flash messages carried to the next page in a signed cookie."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from dutydesk.web.context import (
    WebUser,
    anon_csrf,
    cookie_secure,
    keep_anon_csrf,
    runtime_of,
    signing_key,
)

TEMPLATES = Path(__file__).parent.parent / "templates"
FLASH_COOKIE = "dd_flash"
FLASH_MAX_AGE = 300  # seconds a flash message waits for the next page
FLASH_SALT = "dutydesk.flash"
Kind = Literal["success", "info", "warning", "error"]

environment = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(["html", "xml"], default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Flash:
    kind: Kind
    text: str


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str


def navigation(user: WebUser | None) -> list[NavItem]:
    """The main menu of the signed-in user's role; pages of later issues add their entries."""
    if user is None:
        return []
    if user.is_staff:
        admin = [NavItem("Admin", "/admin")] if user.actor.is_admin else []
        return [
            NavItem("Queues", "/queues"),
            NavItem("Board", "/board"),
            NavItem("Dashboard", "/dashboard"),
            NavItem("Portal", "/portal"),
            *admin,
        ]
    return [NavItem("My requests", "/portal")]


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != (
        "true"
    )


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(signing_key(request), salt=FLASH_SALT)


def pending_flashes(request: Request) -> list[Flash]:
    """The messages a previous response left for this page (tampered or old ones are dropped)."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    try:
        items = _serializer(request).loads(raw, max_age=FLASH_MAX_AGE)
    except BadSignature:
        return []
    kinds = ("success", "info", "warning", "error")
    return [
        Flash(item[0], str(item[1]))
        for item in items
        if isinstance(item, list) and len(item) == 2 and item[0] in kinds
    ][:5]


def flash(response: Response, request: Request, kind: Kind, text: str) -> None:
    """Show `text` on the next page this browser renders (a redirect's target)."""
    items = [[f.kind, f.text] for f in pending_flashes(request)] + [[kind, text[:500]]]
    response.set_cookie(
        FLASH_COOKIE,
        _serializer(request).dumps(items[-5:]),
        max_age=FLASH_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request, runtime_of(request).settings),
        path="/",
    )


def redirect(request: Request, url: str, *, message: str = "", kind: Kind = "success") -> Response:
    """303 to `url` (after a form POST), with an optional flash message for that page; an
    HTMX request is told to go there (``HX-Redirect``) instead of swapping the next page in."""
    response: Response
    if request.headers.get("hx-request") == "true":
        response = Response(status_code=200, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    if message:
        flash(response, request, kind, message)
    return response


def render(
    request: Request,
    user: WebUser | None,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    block: str | None = None,
    flashes: Sequence[Flash] = (),
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render a page; for an HTMX request with `block`, only that ``{% block %}`` of the same
    template (plus the flash area, swapped out of band, when there is a message)."""
    shown = [*pending_flashes(request), *flashes]
    csrf = user.csrf_token if user is not None else anon_csrf(request)
    values: dict[str, Any] = {
        "request": request,
        "user": user,
        "csrf_token": csrf,
        "hx_headers": json.dumps({"X-CSRF-Token": csrf}),
        "nav": navigation(user),
        "path": request.url.path,
        "flashes": shown,
        "oob_flash": False,
        **(context or {}),
    }
    page = environment.get_template(template)
    if block is not None and is_htmx(request):
        render_block = page.blocks[block]
        html = "".join(render_block(page.new_context(values)))
        if shown:
            base = environment.get_template("base.html")  # blocks of a child exclude its parent's
            oob = base.new_context({**values, "oob_flash": True})
            html += "".join(base.blocks["flash"](oob))
    else:
        html = page.render(values)
    response = HTMLResponse(html, status_code=status, headers=dict(headers or {}))
    if user is not None and "cache-control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"  # no signed-in page from a cache
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE, path="/")
    if user is None:
        keep_anon_csrf(response, request, csrf)
    return response
