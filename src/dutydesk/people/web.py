"""Browser sign-in pages: sign in and out, forgotten password, reset link, own password
change, and OpenID Connect single sign-on.

Forms used before sign-in carry the double-submit CSRF token (``check_anon_csrf`` on the
``public`` router); sign-out and the password change carry the session's (``SignedIn``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor
from dutydesk.kernel.errors import DomainError, InvalidInput
from dutydesk.people import oidc, queries, service, sessions
from dutydesk.web.context import (
    SignedIn,
    anonymous_read,
    anonymous_write,
    check_anon_csrf,
    clear_session_cookie,
    cookie_secure,
    current_user,
    runtime_of,
    safe_next,
    set_session_cookie,
    signing_key,
)
from dutydesk.web.render import redirect, render

router = APIRouter(include_in_schema=False)
public = APIRouter(include_in_schema=False, dependencies=[Depends(check_anon_csrf)])
WRONG = "User name or password is wrong."
OIDC_COOKIE = "dd_oidc"
OIDC_MAX_AGE = 600  # seconds between leaving for the provider and coming back
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}  # token in the URL
Text = Annotated[str, Form(max_length=254)]
Password = Annotated[str, Form(max_length=1000)]
NextField = Annotated[str, Form(alias="next", max_length=2000)]


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _login_page(
    request: Request, *, next_url: str, login: str = "", error: str = "", status: int = 200
) -> HTMLResponse:
    settings = runtime_of(request).settings
    context = {"next": next_url, "login": login, "error": error, "sso": oidc.is_enabled(settings)}
    return render(request, None, "people/login.html", context, status=status)


def _signed_in(request: Request, token: str, target: str, message: str) -> Response:
    response = redirect(request, target, message=message)
    set_session_cookie(response, request, runtime_of(request).settings, token)
    return response


# ---------------------------------------------------------------- sign in and out


@public.get("/login", response_class=HTMLResponse)
async def login_page(
    request: Request, next_url: Annotated[str, Query(alias="next", max_length=2000)] = "/"
) -> Response:
    if await current_user(request) is not None:
        return RedirectResponse(safe_next(next_url), status_code=303)
    return _login_page(request, next_url=safe_next(next_url))


@public.post("/login", response_class=HTMLResponse)
async def login(
    request: Request, login: Text, password: Password, next_url: NextField = "/"
) -> Response:
    runtime = runtime_of(request)
    settings = runtime.settings
    agent = request.headers.get("user-agent", "")

    def work(session: Session) -> tuple[int, str, str]:
        result = service.sign_in(
            session, settings, login=login, password=password, address=_address(request)
        )
        if result.user is None:  # the failed attempt is committed: it counts
            return result.retry_after, "", ""
        token = sessions.begin(session, settings, result.user, user_agent=agent)
        return 0, token, result.user.full_name or result.user.username

    retry_after, token, name = await anonymous_write(request, work)
    target = safe_next(next_url)
    if retry_after:
        response = _login_page(
            request,
            next_url=target,
            login=login,
            error="Too many failed sign-ins. Wait a few minutes and try again.",
            status=429,
        )
        response.headers["Retry-After"] = str(retry_after)
        return response
    if not token:
        return _login_page(request, next_url=target, login=login, error=WRONG, status=400)
    return _signed_in(request, token, target, f"Signed in as {name}.")


@router.post("/logout")
async def logout(request: Request, user: SignedIn) -> Response:
    def work(session: Session) -> None:
        sessions.end(session, user.token)

    await anonymous_write(request, work)
    response = redirect(request, "/login", message="You are signed out.", kind="info")
    clear_session_cookie(response)
    return response


# ---------------------------------------------------------------- forgotten password


@public.get("/password/forgot", response_class=HTMLResponse)
async def forgot_page(request: Request) -> HTMLResponse:
    return render(request, None, "people/forgot.html", {"login": "", "error": ""})


@public.post("/password/forgot")
async def forgot(request: Request, login: Text) -> Response:
    runtime = runtime_of(request)
    if not login.strip():
        context = {"login": login, "error": "Enter your user name or e-mail address."}
        return render(request, None, "people/forgot.html", context, status=422)

    def work(session: Session) -> None:
        sessions.request_reset(session, runtime.settings, login)

    await anonymous_write(request, work)
    minutes = runtime.settings.password_reset_minutes
    message = (
        "If an account matches, we have sent a link to its e-mail address. "
        f"It can be used once, within {minutes} minutes."
    )
    return redirect(request, "/login", message=message, kind="info")


@public.get("/password/reset/{token}", response_class=HTMLResponse)
async def reset_page(request: Request, token: str) -> HTMLResponse:
    def check(session: Session) -> None:
        sessions.check_reset(session, token)

    await anonymous_read(request, check)
    return render(
        request, None, "people/reset.html", {"token": token, "error": ""}, headers=PRIVATE
    )


@public.post("/password/reset/{token}")
async def reset(request: Request, token: str, password: Password, confirm: Password) -> Response:
    if password != confirm:
        context = {"token": token, "error": "The two passwords are not the same."}
        return render(request, None, "people/reset.html", context, status=422, headers=PRIVATE)

    def work(session: Session) -> None:
        sessions.reset_password(session, token, password)

    try:
        await anonymous_write(request, work)
    except InvalidInput as exc:
        context = {"token": token, "error": f"{exc.detail[:1].upper()}{exc.detail[1:]}."}
        return render(request, None, "people/reset.html", context, status=422, headers=PRIVATE)
    message = "Your password was changed. Sign in with the new one."
    return redirect(request, "/login", message=message)


# ---------------------------------------------------------------- own account


@router.get("/account", response_class=HTMLResponse)
async def account_page(request: Request, user: SignedIn) -> HTMLResponse:
    def work(session: Session, actor: Actor) -> dict[str, Any]:
        assert actor.user_id is not None
        account = queries.get_user(session, actor.user_id)
        return {
            "full_name": account.full_name,
            "username": account.username,
            "email": account.email,
            "role": account.role.replace("_", " "),
            "has_password": account.password_hash is not None,
        }

    return render(request, user, "people/account.html", {"profile": await user.read(work)})


# ---------------------------------------------------------------- own password


def _password_page(
    request: Request, user: SignedIn, error: str = "", status: int = 200
) -> HTMLResponse:
    return render(request, user, "people/password.html", {"error": error}, status=status)


@router.get("/account/password", response_class=HTMLResponse)
async def password_page(request: Request, user: SignedIn) -> HTMLResponse:
    return _password_page(request, user)


@router.post("/account/password")
async def change_password(
    request: Request, user: SignedIn, current: Password, password: Password, confirm: Password
) -> Response:
    if password != confirm:
        return _password_page(request, user, "The two new passwords are not the same.", 422)
    settings = user.settings
    agent = request.headers.get("user-agent", "")

    def work(session: Session, actor: Actor) -> tuple[str, str]:
        assert actor.user_id is not None
        account = queries.get_user(session, actor.user_id)
        if account.password_hash is None:
            return "", "Your account signs in through single sign-on and has no password here."
        # the current password is checked like a sign-in, so guessing it is rate-limited too
        check = service.sign_in(
            session,
            settings,
            login=account.username,
            password=current,
            address=_address(request),
        )
        if check.retry_after:
            return "", "Too many wrong passwords. Wait a few minutes and try again."
        if check.user is None:
            return "", "The current password is wrong."
        sessions.check_password_strength(password)
        service.change_password(session, actor, account, password)  # ends every session
        return sessions.begin(session, settings, account, user_agent=agent), ""

    try:
        token, error = await user.write(work)
    except InvalidInput as exc:
        return _password_page(request, user, f"{exc.detail[:1].upper()}{exc.detail[1:]}.", 422)
    if error:
        return _password_page(request, user, error, 422)
    message = "Your password was changed. Every other browser signed in as you was signed out."
    return _signed_in(request, token, "/", message)


# ---------------------------------------------------------------- single sign-on


def _flow_serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(signing_key(request), salt="dutydesk.oidc")


@public.get("/login/oidc")
async def oidc_start(
    request: Request, next_url: Annotated[str, Query(alias="next", max_length=2000)] = "/"
) -> Response:
    settings = runtime_of(request).settings
    if not oidc.is_enabled(settings):
        raise DomainError("single sign-on is not configured")
    flow = oidc.new_flow(safe_next(next_url))
    try:
        url = await oidc.authorization_url(settings, flow)
    except oidc.SsoError as exc:
        return _login_page(request, next_url=flow.next_url, error=_sso_message(exc), status=502)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        OIDC_COOKIE,
        _flow_serializer(request).dumps(asdict(flow)),
        max_age=OIDC_MAX_AGE,
        httponly=True,
        samesite="lax",  # the provider's redirect back is a top-level cross-site GET
        secure=cookie_secure(request, settings),
        path="/login/oidc",
    )
    return response


@public.get("/login/oidc/callback")
async def oidc_callback(
    request: Request,
    code: Annotated[str, Query(max_length=2000)] = "",
    state: Annotated[str, Query(max_length=200)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    runtime = runtime_of(request)
    settings = runtime.settings
    try:
        flow = _read_flow(request)
        if error:
            raise oidc.SsoError("the identity provider did not sign you in")
        identity = await oidc.complete(settings, flow, state=state, code=code)
    except oidc.SsoError as exc:
        response = _login_page(request, next_url="/", error=_sso_message(exc), status=exc.status)
        response.delete_cookie(OIDC_COOKIE, path="/login/oidc")
        return response
    agent = request.headers.get("user-agent", "")

    def work(session: Session) -> tuple[str, str]:
        account = sessions.user_for_sso(
            session,
            settings,
            email=identity.email,
            name=identity.name,
            verified=identity.email_verified,
        )
        token = sessions.begin(session, settings, account, user_agent=agent, via="oidc")
        return token, account.full_name or account.username

    try:
        token, name = await anonymous_write(request, work)
    except DomainError as exc:
        message = f"Single sign-on failed: {exc.detail}."
        refused = _login_page(request, next_url="/", error=message, status=403)
        refused.delete_cookie(OIDC_COOKIE, path="/login/oidc")
        return refused
    done = _signed_in(request, token, flow.next_url, f"Signed in as {name}.")
    done.delete_cookie(OIDC_COOKIE, path="/login/oidc")
    return done


def _read_flow(request: Request) -> oidc.Flow:
    raw = request.cookies.get(OIDC_COOKIE, "")
    try:
        data = _flow_serializer(request).loads(raw, max_age=OIDC_MAX_AGE) if raw else None
        return oidc.Flow(**data) if isinstance(data, dict) else _no_flow()
    except (BadSignature, TypeError) as exc:
        raise oidc.SsoError("the sign-in took too long or was started elsewhere") from exc


def _no_flow() -> oidc.Flow:
    raise oidc.SsoError("the sign-in took too long or was started elsewhere; start again")


def _sso_message(exc: oidc.SsoError) -> str:
    return f"Single sign-on failed: {exc.reason}."


router.include_router(public)
