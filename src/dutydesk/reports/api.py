"""REST endpoints for reports: the KPI table, backlog, volume and reassignments, JSON or CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import AwareDatetime
from sqlalchemy.orm import Session

from dutydesk.access.deps import Api
from dutydesk.access.policy import Actor
from dutydesk.kernel import clock
from dutydesk.kernel.errors import Forbidden, InvalidInput
from dutydesk.reports import kpis
from dutydesk.reports.kpis import ReportFilter

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

GroupBy = Literal[
    "priority",
    "category",
    "group",
    "customer",
    "service",
    "ci",
    "channel",
    "state",
    "day",
    "week",
    "month",
]
Period = Literal["day", "week", "month"]
Format = Literal["json", "csv"]
IdList = Annotated[list[int] | None, Query()]


def _filter(
    opened_from: AwareDatetime | None = None,
    opened_to: AwareDatetime | None = None,
    customer_id: IdList = None,
    service_id: IdList = None,
    ci_id: IdList = None,
    category_id: IdList = None,
    group_id: IdList = None,
    priority: Annotated[list[int] | None, Query()] = None,
    channel: Annotated[list[str] | None, Query()] = None,
) -> ReportFilter:
    if opened_from is not None and opened_to is not None and opened_from >= opened_to:
        raise InvalidInput(
            "opened_from must be before opened_to",
            errors=[{"field": "opened_to", "msg": "must be after opened_from"}],
        )
    return ReportFilter(
        opened_from=opened_from,
        opened_to=opened_to,
        customer_ids=tuple(customer_id or ()),
        service_ids=tuple(service_id or ()),
        ci_ids=tuple(ci_id or ()),
        category_ids=tuple(category_id or ()),
        group_ids=tuple(group_id or ()),
        priorities=tuple(priority or ()),
        channels=tuple(channel or ()),
    )


Filter = Annotated[ReportFilter, Depends(_filter)]


def require_reader(actor: Actor) -> None:
    """Reports are for service desk staff (read tokens too); requesters are refused."""
    if not actor.is_staff:
        raise Forbidden("reports are for service desk staff")


def as_csv(rows: Sequence[dict[str, Any]], filename: str) -> Response:
    buffer = io.StringIO()
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


@router.get("/kpis", response_model=None)
async def kpi_report(
    api: Api,
    flt: Filter,
    group_by: GroupBy | None = None,
    business: bool = False,
    format: Format = "json",
) -> Any:
    """Every KPI of docs/kpis.md per group and in total; `business=true` for business time."""

    def work(session: Session, actor: Actor) -> kpis.KpiTable:
        require_reader(actor)
        return kpis.kpi_table(session, actor, flt, group_by=group_by, business=business)

    table = await api.read(work)
    if format == "csv":
        return as_csv([*table.groups, {**table.total, "key": "TOTAL"}], "kpis")
    return {
        "group_by": table.group_by,
        "business": table.business,
        "groups": table.groups,
        "total": table.total,
    }


@router.get("/backlog", response_model=None)
async def backlog_report(
    api: Api, flt: Filter, group_by: GroupBy | None = None, format: Format = "json"
) -> Any:
    """Open incidents now, by age since opening."""

    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        require_reader(actor)
        return kpis.backlog(session, actor, flt, now=clock.now(), group_by=group_by)

    rows = await api.read(work)
    return as_csv(rows, "backlog") if format == "csv" else {"groups": rows}


@router.get("/volume", response_model=None)
async def volume_report(
    api: Api, flt: Filter, period: Period = "week", format: Format = "json"
) -> Any:
    """Incidents opened and resolved per day, week or month."""

    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        require_reader(actor)
        return kpis.volume(session, actor, flt, period=period)

    rows = await api.read(work)
    return as_csv(rows, "volume") if format == "csv" else {"periods": rows}


@router.get("/reassignments", response_model=None)
async def reassignment_report(
    api: Api, flt: Filter, group_by: GroupBy | None = None, format: Format = "json"
) -> Any:
    """How many incidents were reassigned 0, 1, 2, 3, 4, 5+ times."""

    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        require_reader(actor)
        return kpis.reassignment_distribution(session, actor, flt, group_by=group_by)

    rows = await api.read(work)
    return as_csv(rows, "reassignments") if format == "csv" else {"groups": rows}
