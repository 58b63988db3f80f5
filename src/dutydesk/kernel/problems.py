"""RFC 9457 problem details for every error, plus the request-size and request-id middleware."""

from __future__ import annotations

import itertools
import json
import logging
import re
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dutydesk.kernel.errors import DomainError

log = logging.getLogger("dutydesk")
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
# Request ids: a random prefix per process and a counter, 16 hex digits, unique without a
# call to the OS's random source per request (they name a request; they guard nothing).
_ID_PREFIX = secrets.token_hex(4)
_ID_COUNTER = itertools.count(int.from_bytes(secrets.token_bytes(4), "big"))


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFF:08x}"


PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    body.update({k: v for k, v in extra.items() if v is not None and not (k == "errors" and not v)})
    headers = {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    if "etag" in extra:
        headers["ETag"] = str(extra["etag"])
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(_request: Request, exc: DomainError) -> Response:
        return problem(exc.status_code, exc.title, exc.detail, errors=exc.errors, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return problem(400, "Malformed JSON", "the request body is not valid JSON")
        fields = []
        for e in errors:
            msg = str(e.get("msg", "invalid"))
            if e.get("type") == "extra_forbidden":
                msg = "unknown or read-only field; it cannot be set"
            fields.append({"field": _field(tuple(e.get("loc", ()))), "msg": msg})
        return problem(422, "Invalid input", "the request has invalid fields", errors=fields)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        titles = {404: "Not found", 405: "Method not allowed", 401: "Unauthorized"}
        return problem(exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail))

    @app.exception_handler(StaleDataError)
    async def stale(_request: Request, _exc: StaleDataError) -> Response:
        return problem(
            412, "Precondition failed", "the record changed while you were saving; read it again"
        )

    @app.exception_handler(IntegrityError)
    async def integrity(_request: Request, exc: IntegrityError) -> Response:
        log.warning("integrity error: %s", str(exc.orig).splitlines()[0] if exc.orig else exc)
        return problem(409, "Conflict", "the change conflicts with existing data")

    @app.exception_handler(OperationalError)
    async def unavailable(_request: Request, exc: OperationalError) -> Response:
        log.error("database unavailable: %s", str(exc.orig).splitlines()[0] if exc.orig else exc)
        return problem(
            503,
            "Service unavailable",
            "the database is not reachable; retry shortly",
            retry_after=5,
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "Internal error", "something went wrong on our side; it was logged")


class RequestLimits:
    """Reject bodies over the limit with 413 before they are read; tag every response."""

    def __init__(self, app: ASGIApp, *, max_body: int, max_upload: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        rid = headers.get(b"x-request-id", b"").decode("latin-1")
        rid = rid if REQUEST_ID_RE.match(rid) else new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        path = scope.get("path", "")
        limit = self.max_upload + 65536 if path.endswith("/attachments") else self.max_body
        declared = headers.get(b"content-length")

        async def too_big() -> None:  # built only when needed: most requests fit
            answer = problem(
                413, "Payload too large", f"the request body is larger than {limit} bytes"
            )
            await answer(scope, receive, send)

        if declared is not None and declared.isdigit() and int(declared) > limit:
            await too_big()
            return
        received = 0
        exceeded = False
        replaced = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _TooLarge()
            return message

        async def tagged_send(message: Message) -> None:
            nonlocal replaced
            if exceeded:  # whatever the app made of the cut-off body, the answer is 413
                if not replaced:
                    replaced = True
                    await too_big()
                return
            if message["type"] == "http.response.start":
                extra = [(b"x-request-id", rid.encode()), (b"x-content-type-options", b"nosniff")]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, limited_receive, tagged_send)
        except _TooLarge:
            if not replaced:
                await too_big()


class _TooLarge(Exception):
    pass


def dumps(value: Any) -> str:
    return json.dumps(value, default=str)
