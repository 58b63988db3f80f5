"""create_app(): the FastAPI application with the API routers, error handlers and limits."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.routing import BaseRoute

from dutydesk import __version__
from dutydesk.access.deps import Runtime
from dutydesk.admin.web import router as admin_web
from dutydesk.catalog.api import router as catalog_router
from dutydesk.config import Settings, get_settings
from dutydesk.db import Database, make_engine
from dutydesk.escalation.api import router as escalation_router
from dutydesk.incidents.api import router as incidents_router
from dutydesk.incidents.closure_api import router as closure_router
from dutydesk.incidents.live import router as live_web
from dutydesk.incidents.portal import router as portal_web
from dutydesk.incidents.web import router as incidents_web
from dutydesk.incidents.web_board import router as board_web
from dutydesk.incidents.web_workspace import router as workspace_web
from dutydesk.intake.api import router as intake_router
from dutydesk.intake.mail.api import router as mail_router
from dutydesk.kernel.problems import RequestLimits, install_error_handlers
from dutydesk.kernel.route_index import RouteIndex
from dutydesk.notify.api import router as notify_router
from dutydesk.notify.web import router as notify_web
from dutydesk.people.api import router as people_router
from dutydesk.people.web import router as people_web
from dutydesk.reports.api import router as reports_router
from dutydesk.reports.metrics import Metrics, TimingMiddleware
from dutydesk.reports.web import router as reports_web
from dutydesk.routing.api import router as routing_router
from dutydesk.sla.api import router as sla_router
from dutydesk.triage.api import router as triage_router
from dutydesk.web.errors import install_web_errors
from dutydesk.web.home import router as home_web
from dutydesk.web.security import STATIC_DIR, SecurityHeaders
from dutydesk.worker import Worker, health, run_in_thread

ROUTERS = (
    incidents_router,
    closure_router,
    incidents_web,
    workspace_web,
    board_web,
    live_web,
    people_router,
    catalog_router,
    notify_router,
    sla_router,
    escalation_router,
    intake_router,
    mail_router,
    reports_router,
    home_web,
    people_web,
    notify_web,
    portal_web,
    admin_web,
    reports_web,
    routing_router,
    triage_router,
)


@cache
def shared_routes() -> tuple[BaseRoute, ...]:
    """Every router of ROUTERS included once, into one router whose routes each app takes
    as they are: their effective routes (dependencies, validators) are then built on the
    first request of the process, not on the first request of every app."""
    shared = APIRouter()
    for router in ROUTERS:
        shared.include_router(router)
    return tuple(shared.routes)


def served_app() -> FastAPI:
    """The app as `dutydesk serve` runs it: built, its routes' lazy parts built too, and
    everything that exists by then moved out of the cyclic garbage collector's reach
    (`gc.freeze`). The modules, routes, validators and ORM mappings of a process this size
    are several hundred thousand objects that live as long as it does; without the freeze
    every full collection walked them all again, which cost a monitoring event's request
    about a sixth of its event-loop time (py-spy: `gc_collect_main`)."""
    app = create_app()
    for route in app.router.routes:  # FastAPI builds an included router's routes lazily
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            list(contexts())
    gc.collect()
    gc.freeze()
    # Young collections every 10,000 allocations instead of 700: a request allocates a few
    # thousand objects, most of them freed by reference counting anyway. Older generations
    # keep their default ratio (10), so a full collection still comes every ~1M allocations
    # and frees the cycles of dead sessions a few seconds after they die under load.
    gc.set_threshold(10_000, 10, 10)
    return app


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    database = database or Database(
        make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    )
    runtime = Runtime(settings=settings, db=database)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        background = Worker(database, settings) if settings.serve_worker else None
        thread = run_in_thread(background) if background is not None else None
        yield
        if background is not None and thread is not None:
            background.stopping.set()
            thread.join(timeout=30)
        runtime.close()  # the writers finish what is queued before the process ends

    app = FastAPI(
        lifespan=lifespan,
        title="DutyDesk",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        swagger_ui_oauth2_redirect_url="/api/v1/docs/oauth2-redirect",
        redoc_url=None,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    install_web_errors(app)  # web routes get HTML pages instead of problem details
    app.add_middleware(
        RequestLimits, max_body=settings.max_body_bytes, max_upload=settings.max_attachment_bytes
    )
    # The routers' route tables are built once per process and shared by every app
    # (FastAPI builds an included router's routes lazily per inclusion, ~0.1 s per app).
    app.router.routes.extend(shared_routes())
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    metrics = Metrics(database)
    app.add_middleware(TimingMiddleware, metrics=metrics)
    app.add_middleware(SecurityHeaders)

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        """Prometheus text format; loopback/scrape-network exposure is the operator's call."""
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        try:
            with database.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "database": str(type(exc).__name__)}, 503)
        return JSONResponse({"status": "ok", "version": __version__, "worker": health(database)})

    # First, once every route is in: requests skip the routers that cannot serve their path.
    app.router.routes.insert(0, RouteIndex(app.router.routes))
    return app
