"""The KPI dashboard pages: /dashboard, /dashboard/groups/{id}, /dashboard/customers/{id}
and the breakdown's CSV. Staff only (a requester gets the 403 page); every figure is read
through reports.kpis with the user's visibility, as the report API does."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor
from dutydesk.incidents.schemas import Channel
from dutydesk.kernel import clock
from dutydesk.kernel.errors import InvalidInput, NotFound
from dutydesk.models import Customer, SupportGroup
from dutydesk.reports import dashboard, kpis
from dutydesk.reports.api import as_csv, require_reader
from dutydesk.reports.dashboard import BREAKDOWNS, Window
from dutydesk.reports.definitions import DEFINITIONS, TILE_KEYS, format_figure, tile
from dutydesk.reports.kpis import ReportFilter
from dutydesk.web.context import Staff
from dutydesk.web.render import render

router = APIRouter(include_in_schema=False)

PRESETS = ("7", "30", "90")
MAX_DAYS = 366
CHANNELS = tuple(c.value for c in Channel)
ENTITY_PARAMS = ("customer", "service", "category", "group")
COLUMNS = (
    "count",
    "mtta_seconds",
    "mttr_seconds",
    "mttr_median_seconds",
    "fcr_rate",
    "sla_response_met_rate",
    "sla_resolution_met_rate",
    "reopen_rate",
    "csat_mean",
)


@dataclass
class Form:
    """The filter form as submitted (strings, so a bad value is shown back to the user)."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    flt: ReportFilter = field(default_factory=ReportFilter)
    window: Window | None = None


def _int(form: Form, name: str, low: int = 1, high: int = 2**31) -> int | None:
    raw = form.values.get(name, "")
    if not raw:
        return None
    if not raw.isdigit() or not low <= int(raw) <= high:
        form.errors[name] = f"Choose a value from the list ({low}–{high})."
        return None
    return int(raw)


def _date(form: Form, name: str) -> date | None:
    raw = form.values.get(name, "")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        form.errors[name] = "Enter a date as YYYY-MM-DD."
        return None


def parse(params: dict[str, str], now: datetime) -> Form:
    keys = ("range", "from", "to", *ENTITY_PARAMS, "priority", "channel", "by", "sort", "dir")
    form = Form({k: params.get(k, "").strip()[:40] for k in keys})
    values = form.values
    values["range"] = values["range"] or "30"
    values["by"] = values["by"] or "group"
    if values["by"] not in BREAKDOWNS:
        form.errors["by"] = "Choose group, customer, service or category."
    if values["sort"] and values["sort"] not in ("key", *COLUMNS):
        form.errors["sort"] = "Unknown column."
    if values["range"] in PRESETS:  # up to the next whole minute: readable, and cacheable
        until = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        form.window = Window(until - timedelta(days=int(values["range"])), until)
    elif values["range"] == "custom":
        start, end = _date(form, "from"), _date(form, "to")
        if start and end:
            if end < start:
                form.errors["to"] = "The end must not be before the start."
            elif (end - start).days >= MAX_DAYS:
                form.errors["to"] = f"Choose at most {MAX_DAYS} days."
            else:
                begin = datetime.combine(start, datetime.min.time(), UTC)
                form.window = Window(begin, begin + timedelta(days=(end - start).days + 1))
    else:
        form.errors["range"] = "Choose 7, 30 or 90 days, or a custom range."
    ids = {name: _int(form, name) for name in ENTITY_PARAMS}
    priority = _int(form, "priority", 1, 5)
    channel = values["channel"]
    if channel and channel not in CHANNELS:
        form.errors["channel"] = "Choose a channel from the list."
    form.flt = ReportFilter(
        customer_ids=_one(ids["customer"]),
        service_ids=_one(ids["service"]),
        category_ids=_one(ids["category"]),
        group_ids=_one(ids["group"]),
        priorities=_one(priority),
        channels=(channel,) if channel and not form.errors.get("channel") else (),
    )
    return form


def _one(value: Any) -> tuple[Any, ...]:
    return () if value is None else (value,)


def _sorted(rows: list[dict[str, Any]], sort: str, descending: bool) -> list[dict[str, Any]]:
    """Sort by a column, rows without a value last whichever the direction."""
    key = sort or "count"
    present = [r for r in rows if r.get(key) is not None]
    missing = [r for r in rows if r.get(key) is None]
    present.sort(key=lambda r: str(r[key]).lower() if key == "key" else r[key], reverse=descending)
    return present + missing


def _query(form: Form, **changes: str) -> str:
    values = {**form.values, **changes}
    return urlencode({k: v for k, v in values.items() if v})


async def _page(
    request: Request, user: Staff, scope: dict[str, str], heading: str, entity: Any = None
) -> HTMLResponse:
    now = clock.now()
    params = dict(request.query_params)
    params.update(scope)
    form = parse(params, now)
    descending = form.values["dir"] != "asc"
    sort = form.values["sort"] or "count"

    def work(session: Session, actor: Actor) -> dict[str, Any]:
        require_reader(actor)
        data: dict[str, Any] = {"options": dashboard.filter_options(session)}
        if entity is not None:
            data["heading"] = f"{heading}: {_entity_name(session, entity)}"
        if form.errors or form.window is None:
            return data
        window = form.window
        figures = dashboard.page(session, actor, form.flt, window, now, form.values["by"])
        current, previous = figures.current, figures.previous
        data["tiles"] = [tile(k, current.get(k), previous.get(k)) for k in TILE_KEYS]
        data["empty"] = not current["count"] and not current["resolved"] and not current["backlog"]
        data["charts"] = figures.charts
        data["rows"] = _sorted(figures.table.groups, sort, descending)
        return data

    data = await user.read(work)
    window = form.window
    context = {
        "heading": data.get("heading", heading),
        "base_path": request.url.path,
        "form": form,
        "scope": scope,
        "presets": PRESETS,
        "channels": [(c, c.replace("_", " ").capitalize()) for c in CHANNELS],
        "breakdowns": BREAKDOWNS,
        "columns": [(c, DEFINITIONS.get(c)) for c in COLUMNS],
        "options": data["options"],
        "tiles": data.get("tiles", []),
        "charts": data.get("charts", []),
        "rows": data.get("rows", []),
        "empty": data.get("empty", True),
        "sort": sort,
        "descending": descending,
        "fmt": format_figure,
        "definitions": DEFINITIONS,
        "query": lambda **changes: _query(form, **changes),
        "period_text": _period_text(window),
        "csv_url": f"{request.url.path.rstrip('/')}/kpis.csv?{_query(form)}",
        "api_url": _api_url(form),
    }
    status = 422 if form.errors else 200
    return render(request, user, "reports/dashboard.html", context, status=status, block="results")


def _entity_name(session: Session, entity: tuple[Any, int, str]) -> str:
    """The name of the group or customer a view is about (404 when there is none)."""
    row = session.get(entity[0], entity[1])
    if row is None:
        raise NotFound(f"{entity[2]} not found")
    return str(row.name)


def _period_text(window: Window | None) -> str:
    if window is None:
        return ""
    last = window.end - timedelta(microseconds=1)
    return f"{window.start:%d %b %Y %H:%M} – {last:%d %b %Y %H:%M} UTC, by {window.step}"


def _api_url(form: Form) -> str:
    """The same breakdown from the report API (for scripts, with an API token)."""
    if form.window is None:
        return ""
    flt = form.flt
    params: list[tuple[str, Any]] = [
        ("group_by", form.values["by"]),
        ("format", "csv"),
        ("opened_from", form.window.start.isoformat()),
        ("opened_to", form.window.end.isoformat()),
    ]
    for name, values in (
        ("customer_id", flt.customer_ids),
        ("service_id", flt.service_ids),
        ("category_id", flt.category_ids),
        ("group_id", flt.group_ids),
        ("priority", flt.priorities),
        ("channel", flt.channels),
    ):
        params += [(name, v) for v in values]
    return "/api/v1/reports/kpis?" + urlencode(params)


async def _csv(
    request: Request, user: Staff, scope: dict[str, str], entity: Any = None
) -> Response:
    params = dict(request.query_params)
    params.update(scope)
    form = parse(params, clock.now())
    if form.errors or form.window is None:
        raise InvalidInput(
            "invalid filter", errors=[{"field": k, "msg": v} for k, v in form.errors.items()]
        )
    window = form.window

    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        require_reader(actor)
        if entity is not None:
            _entity_name(session, entity)
        table = kpis.kpi_table(
            session, actor, dashboard.dated(form.flt, window), group_by=form.values["by"]
        )
        return [*table.groups, {**table.total, "key": "TOTAL"}]

    return as_csv(await user.read(work), f"kpis-by-{form.values['by']}")


@router.get("/dashboard", response_class=HTMLResponse)
async def overview(request: Request, user: Staff) -> HTMLResponse:
    return await _page(request, user, {}, "Dashboard")


@router.get("/dashboard/kpis.csv")
async def overview_csv(request: Request, user: Staff) -> Response:
    return await _csv(request, user, {})


# One group's or one customer's dashboard: (model, the filter it fixes, the heading).
VIEWS: dict[str, tuple[Any, str, str]] = {
    "groups": (SupportGroup, "group", "Group"),
    "customers": (Customer, "customer", "Customer"),
}


def _view(kind: str, entity_id: int) -> tuple[dict[str, str], tuple[Any, int, str], str]:
    if kind not in VIEWS:
        raise NotFound("page not found")
    model, param, heading = VIEWS[kind]
    return {param: str(entity_id)}, (model, entity_id, param), heading


@router.get("/dashboard/{kind}/{entity_id}", response_class=HTMLResponse)
async def for_entity(request: Request, user: Staff, kind: str, entity_id: int) -> HTMLResponse:
    """/dashboard/groups/{id} and /dashboard/customers/{id}."""
    scope, entity, heading = _view(kind, entity_id)
    return await _page(request, user, scope, heading, entity)


@router.get("/dashboard/{kind}/{entity_id}/kpis.csv")
async def for_entity_csv(request: Request, user: Staff, kind: str, entity_id: int) -> Response:
    scope, entity, _heading = _view(kind, entity_id)
    return await _csv(request, user, scope, entity)
