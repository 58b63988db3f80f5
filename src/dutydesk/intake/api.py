"""The receivers (generic events, Alertmanager, PagerDuty Events v2), the alert list and the
admin routes for integrations and maintenance windows.

A receiver answers 202 only after the event's transaction committed (group commit), 429
with Retry-After when too many events of this process wait for the database, and 503 with
Retry-After when the database is unreachable; never a 500 for bad input.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from dutydesk.access.deps import Api, Runtime
from dutydesk.access.policy import Actor, require_admin
from dutydesk.config import Settings
from dutydesk.intake import admin, queries, service
from dutydesk.intake.schemas import (
    AlertList,
    EventBatchResult,
    EventCreate,
    EventResult,
    IntegrationCreate,
    IntegrationCreated,
    IntegrationPatch,
    IntegrationRead,
    MaintenanceWindowCreate,
    MaintenanceWindowPatch,
    MaintenanceWindowRead,
)
from dutydesk.intake.signals import Signal, SignalError
from dutydesk.intake.sources import alertmanager, generic, pagerduty
from dutydesk.kernel.errors import (
    DomainError,
    Forbidden,
    InvalidInput,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
)
from dutydesk.kernel.route_index import direct
from dutydesk.models import Integration

T = TypeVar("T")
router = APIRouter()
API = "/api/v1"
MAX_BATCH = 1000
_EVENTS = TypeAdapter(list[EventCreate])
RETRY_AFTER_BUSY = 1
RETRY_AFTER_DOWN = 5


class Unavailable(DomainError):
    status_code = 503
    title = "Service unavailable"


# ---------------------------------------------------------------- plumbing


def _authenticate(session: Session, token: str) -> Integration:
    integration = queries.find_integration_by_token(session, token)
    if integration is None:
        raise Unauthorized("the integration token is unknown")
    if integration.revoked_at is not None:
        raise Forbidden("the integration token was revoked")
    if not integration.active:
        raise Forbidden("the integration is disabled")
    return integration


async def _ingest(request: Request, token: str, signals: list[Signal]) -> list[service.Ingested]:
    """Run the signals in the group commit; the answer comes after the commit. (The
    receivers authenticate by integration token, in the job: they take the app's runtime
    straight from the request rather than through the `Api` dependency, which costs a
    dependency resolution per event.)"""
    state = request.app.state
    runtime: Runtime = state.runtime
    pending = getattr(state, "intake_pending", 0)
    if pending >= runtime.settings.intake_max_pending:
        raise TooManyRequests(
            "too many events are waiting for the database; retry shortly",
            extra={"retry_after": RETRY_AFTER_BUSY},
        )
    state.intake_pending = pending + 1

    try:
        return await runtime.writes().run_merged(
            ("intake", token), _Events(token, runtime.settings, signals), _ingest_events
        )
    except DBAPIError as exc:
        if isinstance(exc, IntegrityError):
            raise
        raise Unavailable(
            "the database is not reachable; the event was not stored, retry shortly",
            extra={"retry_after": RETRY_AFTER_DOWN},
        ) from exc
    finally:
        state.intake_pending = getattr(state, "intake_pending", 1) - 1


@dataclass(frozen=True)
class _Events:
    """One request's signals, as a job of the group commit."""

    token: str
    settings: Settings
    signals: list[Signal]


def _ingest_events(session: Session, requests: list[_Events]) -> list[list[service.Ingested]]:
    """The signals of requests with the same token that queued up together, in one
    ingest_many call (the same as one call per request, in order: one read of their open
    alerts, one write of their counts), answered per request."""
    integration = _authenticate(session, requests[0].token)
    signals = [signal for request in requests for signal in request.signals]
    done = service.ingest_many(session, requests[0].settings, integration, signals)
    answers, start = [], 0
    for request in requests:
        answers.append(done[start : start + len(request.signals)])
        start += len(request.signals)
    return answers


def _bearer(request: Request) -> str:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise Unauthorized("send the integration token as 'Authorization: Bearer <token>'")
    return credentials.strip()


async def _json(request: Request, *, batch_allowed: bool = False) -> Any:
    """The JSON body; one event (or one Alertmanager group) may not exceed 512 KB, the
    PagerDuty limit. A batch (a JSON array) is bounded by the app's max_body_bytes."""
    body = await request.body()
    limit = pagerduty.MAX_BYTES
    if len(body) > limit and not (batch_allowed and body.lstrip().startswith(b"[")):
        raise PayloadTooLarge(f"the event is larger than {limit} bytes")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DomainError("the request body is not valid JSON") from exc


def _fields(exc: ValidationError, prefix: str = "") -> list[dict[str, Any]]:
    out = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e.get("loc", ()))
        msg = str(e.get("msg", "invalid"))
        if e.get("type") == "extra_forbidden":
            msg = "unknown field"
        if not loc and ": " in msg:  # a model check names its field first ("summary: …")
            loc, _, msg = msg.removeprefix("Value error, ").partition(": ")
        out.append({"field": ".".join(p for p in (prefix, loc) if p) or "body", "msg": msg})
    return out


def _result(done: service.Ingested) -> dict[str, Any]:
    """An `EventResult` as JSON: built as a dict, a model per event cost more than its event
    (the outcome is a str enum: JSON writes its value)."""
    return {
        "dedup_key": done.dedup_key,
        "outcome": done.outcome,
        "alert_id": done.alert_id,
        "incident": done.incident_number,
    }


# ---------------------------------------------------------------- receivers


@router.post(
    f"{API}/events",
    status_code=202,
    response_model=EventResult | EventBatchResult,
    summary="Send one monitoring event, or a JSON array of up to 1,000 (the batch form).",
)
@direct  # called by the route index itself (kernel.route_index)
async def post_events(request: Request) -> JSONResponse:
    token = _bearer(request)
    body = await _json(request, batch_allowed=True)
    items = body if isinstance(body, list) else [body]
    if isinstance(body, list) and not 1 <= len(body) <= MAX_BATCH:
        raise InvalidInput(
            f"a batch holds 1 to {MAX_BATCH} events",
            errors=[{"field": "body", "msg": f"1 to {MAX_BATCH} events"}],
        )
    try:  # all at once (cheaper per event); item by item only to name what is wrong
        events = _EVENTS.validate_python(items)
    except ValidationError:
        errors = []
        for n, item in enumerate(items):
            try:
                EventCreate.model_validate(item)
            except ValidationError as exc:
                errors.extend(_fields(exc, str(n) if isinstance(body, list) else ""))
        raise InvalidInput("the event has invalid fields", errors=errors) from None
    done = await _ingest(request, token, [generic.parse(e) for e in events])
    if isinstance(body, list):  # the shapes of response_model, written directly
        return JSONResponse({"results": [_result(d) for d in done]}, 202)
    return JSONResponse(_result(done[0]), 202)


@router.post(
    "/integrations/alertmanager/{token}",
    status_code=202,
    response_model=dict[str, Any],
    include_in_schema=True,
)
@direct
async def alertmanager_webhook(request: Request, token: str) -> JSONResponse:
    """Prometheus Alertmanager `webhook_configs` receiver (payload version 4)."""
    body = await _json(request)
    try:
        signals = alertmanager.parse(body)
    except SignalError as exc:
        raise InvalidInput(str(exc), errors=exc.errors) from exc
    done = await _ingest(request, token, signals)
    # written directly, as post_events does: FastAPI's encoder walked the results again
    return JSONResponse({"status": "success", "results": [_result(d) for d in done]}, 202)


def _pd(status: int, state: str, message: str, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": str(extra.pop("retry_after"))} if "retry_after" in extra else {}
    return JSONResponse({"status": state, "message": message, **extra}, status, headers=headers)


@router.post("/v2/enqueue", status_code=202)
@direct
async def pagerduty_enqueue(request: Request) -> JSONResponse:
    """PagerDuty Events API v2: `routing_key` is the integration token."""
    raw = await request.body()
    if len(raw) > pagerduty.MAX_BYTES:
        return _pd(
            413,
            "invalid event",
            "Event object is too large",
            errors=["Request body is larger than 512 KB"],
        )
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return _pd(400, "invalid event", "Event object is invalid", errors=["Malformed JSON"])
    try:
        signal = pagerduty.parse(body)
    except SignalError as exc:
        return _pd(
            400, "invalid event", "Event object is invalid", errors=[e["msg"] for e in exc.errors]
        )
    key = pagerduty.routing_key(body) or ""
    try:
        await _ingest(request, key, [signal])
    except (Unauthorized, Forbidden) as exc:
        return _pd(exc.status_code, "invalid routing key", exc.detail)
    except TooManyRequests:
        return _pd(
            429,
            "throttle event",
            "Requests are arriving too quickly; retry later",
            retry_after=RETRY_AFTER_BUSY,
        )
    except Unavailable:
        return _pd(
            503,
            "unavailable",
            "The database is not reachable; retry later",
            retry_after=RETRY_AFTER_DOWN,
        )
    return _pd(202, "success", "Event processed", dedup_key=signal.dedup_key)


# ---------------------------------------------------------------- alerts


def _staff(actor: Actor) -> None:
    if not actor.is_staff:
        raise Forbidden("only service desk staff may list alerts")


@router.get(f"{API}/alerts", response_model=AlertList)
async def list_alerts(
    api: Api,
    integration: Annotated[str | None, Query(max_length=120)] = None,
    status: Annotated[str | None, Query(max_length=100)] = None,
    service_: Annotated[str | None, Query(alias="service", max_length=120)] = None,
    ci: Annotated[str | None, Query(max_length=120)] = None,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    count: bool = False,
) -> AlertList:
    statuses = tuple(s for s in (status or "").split(",") if s)
    bad = [s for s in statuses if s not in ("triggered", "acknowledged", "resolved")]
    if bad:
        raise InvalidInput(
            "unknown alert status",
            errors=[{"field": "status", "msg": "triggered, acknowledged or resolved"}],
        )
    flt = queries.AlertFilter(integration=integration, statuses=statuses, service=service_, ci=ci)

    def read(session: Session, actor: Actor) -> AlertList:
        _staff(actor)
        items, next_cursor, total = queries.list_alerts(
            session, flt, cursor=cursor, limit=limit, count=count
        )
        return AlertList.model_validate(
            {"items": items, "next_cursor": next_cursor, "total": total}
        )

    return await api.read(read)


# ---------------------------------------------------------------- admin


def _admin_read(fn: Callable[[Session], T]) -> Callable[[Session, Actor], T]:
    def run(session: Session, actor: Actor) -> T:
        require_admin(actor)
        return fn(session)

    return run


@router.get(f"{API}/admin/integrations", response_model=list[IntegrationRead])
async def list_integrations(api: Api) -> list[IntegrationRead]:
    return await api.read(
        _admin_read(
            lambda s: [IntegrationRead.model_validate(i) for i in queries.list_integrations(s)]
        )
    )


@router.post(f"{API}/admin/integrations", status_code=201, response_model=IntegrationCreated)
async def create_integration(api: Api, data: IntegrationCreate) -> IntegrationCreated:
    def write(session: Session, actor: Actor) -> IntegrationCreated:
        integration, token = admin.create_integration(session, actor, data)
        read = IntegrationRead.model_validate(integration)
        return IntegrationCreated(**read.model_dump(), token=token)

    return await api.write(write)


@router.get(f"{API}/admin/integrations/{{integration_id}}", response_model=IntegrationRead)
async def get_integration(api: Api, integration_id: int) -> IntegrationRead:
    return await api.read(
        _admin_read(
            lambda s: IntegrationRead.model_validate(queries.get_integration(s, integration_id))
        )
    )


@router.patch(f"{API}/admin/integrations/{{integration_id}}", response_model=IntegrationRead)
async def patch_integration(
    api: Api, integration_id: int, data: IntegrationPatch
) -> IntegrationRead:
    def write(session: Session, actor: Actor) -> IntegrationRead:
        require_admin(actor)
        found = queries.get_integration(session, integration_id)
        return IntegrationRead.model_validate(admin.update_integration(session, actor, found, data))

    return await api.write(write)


@router.post(
    f"{API}/admin/integrations/{{integration_id}}/token",
    status_code=201,
    response_model=IntegrationCreated,
)
async def rotate_integration_token(api: Api, integration_id: int) -> IntegrationCreated:
    """A new token; the old one stops working."""

    def write(session: Session, actor: Actor) -> IntegrationCreated:
        require_admin(actor)
        found = queries.get_integration(session, integration_id)
        token = admin.rotate_token(session, actor, found)
        return IntegrationCreated(**IntegrationRead.model_validate(found).model_dump(), token=token)

    return await api.write(write)


@router.delete(f"{API}/admin/integrations/{{integration_id}}/token", response_model=IntegrationRead)
async def revoke_integration_token(api: Api, integration_id: int) -> IntegrationRead:
    def write(session: Session, actor: Actor) -> IntegrationRead:
        require_admin(actor)
        found = queries.get_integration(session, integration_id)
        return IntegrationRead.model_validate(admin.revoke_token(session, actor, found))

    return await api.write(write)


@router.get(f"{API}/admin/maintenance-windows", response_model=list[MaintenanceWindowRead])
async def list_windows(api: Api) -> list[MaintenanceWindowRead]:
    return await api.read(
        _admin_read(
            lambda s: [MaintenanceWindowRead.model_validate(w) for w in queries.list_windows(s)]
        )
    )


@router.post(
    f"{API}/admin/maintenance-windows", status_code=201, response_model=MaintenanceWindowRead
)
async def create_window(api: Api, data: MaintenanceWindowCreate) -> MaintenanceWindowRead:
    return await api.write(
        lambda s, a: MaintenanceWindowRead.model_validate(admin.create_window(s, a, data))
    )


@router.patch(
    f"{API}/admin/maintenance-windows/{{window_id}}", response_model=MaintenanceWindowRead
)
async def patch_window(
    api: Api, window_id: int, data: MaintenanceWindowPatch
) -> MaintenanceWindowRead:
    def write(session: Session, actor: Actor) -> MaintenanceWindowRead:
        require_admin(actor)
        window = queries.get_window(session, window_id)
        return MaintenanceWindowRead.model_validate(
            admin.update_window(session, actor, window, data)
        )

    return await api.write(write)


@router.delete(f"{API}/admin/maintenance-windows/{{window_id}}", status_code=204)
async def delete_window(api: Api, window_id: int) -> Response:
    def write(session: Session, actor: Actor) -> None:
        require_admin(actor)
        admin.delete_window(session, actor, queries.get_window(session, window_id))

    await api.write(write)
    return Response(status_code=204)
