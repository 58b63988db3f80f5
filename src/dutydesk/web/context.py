"""Who is using the browser, and their work in one transaction: the web twin of
``access.deps.ApiContext``, authenticated by the session cookie instead of a bearer token.

CSRF: every state-changing request must carry the session's CSRF token, as the form field
``csrf_token`` or the ``X-CSRF-Token`` header (HTMX sends it from ``hx-headers`` on <body>).
Forms used before sign-in (sign-in, password reset) use a double-submit cookie instead.
Both checks are dependencies of every web router, so a route cannot forget them; a test walks
the route table to prove it.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar
from urllib.parse import quote

import anyio.to_thread
from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from dutydesk.access.deps import Runtime, request_id_of
from dutydesk.access.policy import Actor, require_staff
from dutydesk.config import Settings
from dutydesk.incidents.confirmation import secret_key
from dutydesk.people import queries as people
from dutydesk.people import sessions

T = TypeVar("T")
SESSION_COOKIE = "dd_session"
ANON_CSRF_COOKIE = "dd_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SignInRequired(Exception):
    """No live session: pages redirect to the sign-in page, HTMX requests are told to."""

    def __init__(self, next_url: str) -> None:
        super().__init__("sign in required")
        self.next_url = next_url


class CsrfRefused(Exception):
    """A state-changing request without the right CSRF token (403)."""


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def cookie_secure(request: Request, settings: Settings) -> bool:
    if settings.cookie_secure == "always":
        return True
    if settings.cookie_secure == "never":
        return False
    return request.url.scheme == "https" or settings.public_base_url.startswith("https://")


def set_session_cookie(response: Response, request: Request, settings: Settings, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_absolute_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request, settings),
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def signing_key(request: Request) -> str:
    """The app's secret key (settings or the database's), read once per process."""
    key: str | None = getattr(request.app.state, "web_key", None)
    if key is None:
        runtime = runtime_of(request)
        with runtime.db.unit_of_work(write=False) as session:
            key = secret_key(session, runtime.settings)
        request.app.state.web_key = key
    return key


async def submitted_csrf(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # Starlette keeps it; the endpoint reads the same form
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


def _same(a: str, b: str) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


@dataclass
class WebUser:
    """The signed-in user of this request."""

    runtime: Runtime
    request: Request
    token: str
    session_id: int
    actor: Actor
    csrf_token: str
    display_name: str
    email: str

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def is_staff(self) -> bool:
        return self.actor.is_staff

    def _fresh_actor(self, session: Session) -> Actor:
        """Authenticate again inside the write's transaction: a sign-out, password change or
        disabling committed in between is seen, as with API tokens."""
        resumed = sessions.resume(session, self.settings, self.token)
        if resumed is None:
            raise SignInRequired(str(self.request.url.path))
        return people.build_actor(
            session, resumed.user, channel="web", request_id=self.actor.request_id
        )

    async def read(self, fn: Callable[[Session, Actor], T]) -> T:
        def run() -> T:
            with self.runtime.db.unit_of_work(write=False) as session:
                return fn(session, self.actor)

        return await anyio.to_thread.run_sync(run)

    async def write(self, fn: Callable[[Session, Actor], T]) -> T:
        def job(session: Session) -> T:
            return fn(session, self._fresh_actor(session))

        return await self.runtime.writes().run(job)


def _resolve(runtime: Runtime, token: str, request_id: str) -> tuple[sessions.Resumed, Actor] | None:
    with runtime.db.unit_of_work(write=False) as session:
        resumed = sessions.resume(session, runtime.settings, token)
        if resumed is None:
            return None
        actor = people.build_actor(session, resumed.user, channel="web", request_id=request_id)
        session.expunge(resumed.user)
    if resumed.stale:
        with runtime.db.unit_of_work(write=True) as session:
            sessions.touch(session, resumed.session_id)
    return resumed, actor


def _next_of(request: Request) -> str:
    path = request.url.path
    if request.method not in SAFE_METHODS or request.headers.get("hx-request"):
        path = request.headers.get("hx-current-url", "") or "/"
        path = "/" + path.split("://", 1)[-1].split("/", 1)[-1] if "://" in path else path
    query = f"?{request.url.query}" if request.url.query and request.method == "GET" else ""
    return quote(path + query, safe="/?=&")


async def signed_in(request: Request) -> WebUser:
    """Dependency: the signed-in user, with the CSRF token checked on state-changing requests."""
    runtime = runtime_of(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    rid = getattr(request.state, "request_id", None) or request_id_of(request)
    found = await anyio.to_thread.run_sync(_resolve, runtime, token, rid) if token else None
    if found is None:
        raise SignInRequired(_next_of(request))
    resumed, actor = found
    if request.method not in SAFE_METHODS and not _same(
        await submitted_csrf(request), resumed.csrf_token
    ):
        raise CsrfRefused()
    return WebUser(
        runtime=runtime,
        request=request,
        token=token,
        session_id=resumed.session_id,
        actor=actor,
        csrf_token=resumed.csrf_token,
        display_name=resumed.user.full_name or resumed.user.username,
        email=resumed.user.email,
    )


async def staff(user: Annotated[WebUser, Depends(signed_in)]) -> WebUser:
    """Dependency: a signed-in agent, incident manager or admin (403 for a requester)."""
    require_staff(user.actor)
    return user


# ---------------------------------------------------------------- before sign-in


def anon_csrf(request: Request) -> str:
    """The double-submit token of a visitor who is not signed in (new when absent)."""
    current = request.cookies.get(ANON_CSRF_COOKIE, "")
    return current if 20 <= len(current) <= 100 else secrets.token_urlsafe(32)


def keep_anon_csrf(response: Response, request: Request, token: str) -> None:
    if request.cookies.get(ANON_CSRF_COOKIE) != token:
        settings = runtime_of(request).settings
        response.set_cookie(
            ANON_CSRF_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=cookie_secure(request, settings),
            path="/",
        )


async def check_anon_csrf(request: Request) -> None:
    """Dependency of forms used before sign-in: the form's token must match the cookie."""
    if request.method in SAFE_METHODS:
        return
    if not _same(await submitted_csrf(request), request.cookies.get(ANON_CSRF_COOKIE, "")):
        raise CsrfRefused()


SignedIn = Annotated[WebUser, Depends(signed_in)]
Staff = Annotated[WebUser, Depends(staff)]
