"""The figures of the KPI dashboard (/dashboard): one period beside the one before it, the
series behind its charts and the breakdown table. Reads only, through reports.kpis, so every
figure has the caller's visibility and the definitions of docs/kpis.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor
from dutydesk.models import Category, Customer, Incident, Service, SupportGroup
from dutydesk.reports import kpis
from dutydesk.reports.charts import Chart, Series
from dutydesk.reports.kpis import AGE_BUCKETS, ReportFilter

Step = Literal["day", "week"]
AGE_LABELS = ("< 1 d", "1–3 d", "3–7 d", "7–30 d", "≥ 30 d")


@dataclass(frozen=True)
class Window:
    """The reporting period [start, end) and its chart step (days up to 31 days, else weeks)."""

    start: datetime
    end: datetime

    @property
    def step(self) -> Step:
        return "day" if self.end - self.start <= timedelta(days=31) else "week"

    @property
    def previous(self) -> Window:
        return Window(self.start - (self.end - self.start), self.start)

    def buckets(self) -> list[tuple[str, datetime, datetime]]:
        """(key as reports.sql.period_start spells it, start, end) of each day or ISO week."""
        day0 = self.start.replace(hour=0, minute=0, second=0, microsecond=0)
        if self.step == "week":
            day0 -= timedelta(days=day0.weekday())
        size = timedelta(days=1 if self.step == "day" else 7)
        out = []
        at = day0
        while at < self.end:
            out.append((at.strftime("%Y-%m-%d"), max(at, self.start), min(at + size, self.end)))
            at += size
        return out


def dated(flt: ReportFilter, window: Window) -> ReportFilter:
    return replace(flt, opened_from=window.start, opened_to=window.end)


def backlog_at(
    session: Session, actor: Actor, flt: ReportFilter, points: list[datetime]
) -> list[list[int]]:
    """For each instant, the incidents open then per age bucket (kpis.AGE_BUCKETS), in one
    query: opened at or before it and not resolved, closed or cancelled by then. The filter's
    dates are ignored. A reopened incident has lost its first resolved_at, so it counts as
    open from then on (the history is not replayed).

    Each incident is placed once on a grid instead of being tested against every point and
    bucket (that cost 1.8 s of PostgreSQL CPU for 15 points over 330,000 open incidents):
    `o` counts the grid instants (points, and points minus each bucket's age) before its
    opened_at, `e` is the first point by which it was resolved, closed or cancelled. The
    database counts incidents per (o, e); each point's buckets are added up here from those
    counts, exactly."""
    if not points:
        return []
    instants = sorted(set(points))
    grid = sorted({t - age for t in instants for _, age in AGE_BUCKETS if age} | set(instants))
    over = case(*((Incident.opened_at <= x, i) for i, x in enumerate(grid)), else_=len(grid)).label(
        "o"
    )
    gone = case(
        (
            and_(
                Incident.resolved_at.is_(None),
                Incident.closed_at.is_(None),
                Incident.cancelled_at.is_(None),
            ),
            len(instants),
        ),
        *(
            (
                or_(Incident.resolved_at <= t, Incident.closed_at <= t, Incident.cancelled_at <= t),
                j,
            )
            for j, t in enumerate(instants)
        ),
        else_=len(instants),
    ).label("e")
    first, last = instants[0], instants[-1]
    could_be_open = (  # only rows open at some point are placed on the grid
        Incident.opened_at <= last,
        or_(Incident.resolved_at.is_(None), Incident.resolved_at > first),
        or_(Incident.closed_at.is_(None), Incident.closed_at > first),
        or_(Incident.cancelled_at.is_(None), Incident.cancelled_at > first),
    )
    rows = session.execute(
        select(over, gone, func.count())
        .where(*kpis._conditions(actor, flt, dates=False), *could_be_open)
        .group_by(over, gone)
    ).all()
    at = {x: i for i, x in enumerate(grid)}  # opened_at > x  <=>  o > at[x]
    counts: dict[datetime, list[int]] = {t: [0] * len(AGE_BUCKETS) for t in instants}
    for o, e, n in rows:
        for j, t in enumerate(instants):
            if j >= e or o > at[t]:
                continue  # gone by t, or opened after it
            lower: datetime | None = None  # the bucket: opened in (t - upper, t - lower]
            for k, (_name, upper) in enumerate(AGE_BUCKETS):
                if (upper is None or o > at[t - upper]) and (lower is None or o <= at[lower]):
                    counts[t][k] += n
                    break
                lower = t - upper if upper is not None else None
    return [list(counts[t]) for t in points]


def summary(
    session: Session,
    actor: Actor,
    flt: ReportFilter,
    window: Window,
    totals: tuple[kpis.KpiTable, kpis.KpiTable],
    *,
    resolved: int,
    backlog: int,
) -> dict[str, Any]:
    """Every tile's figure for the period (see reports.definitions) from the wall-clock and
    business-time totals of the period's kpi_tables, its resolved count and its backlog at
    the end (see `page`); the P1 count is read here."""
    wall, business = (t.total for t in totals)
    figures: dict[str, Any] = dict(wall)
    figures["business_mttr_seconds"] = business["mttr_seconds"]
    figures["business_mttr_median_seconds"] = business["mttr_median_seconds"]
    figures["resolved"] = resolved
    figures["backlog"] = backlog
    if flt.priorities and 1 not in flt.priorities:
        figures["major"] = 0
    else:
        p1 = kpis._conditions(actor, replace(dated(flt, window), priorities=(1,)))
        figures["major"] = session.scalar(select(func.count()).select_from(Incident).where(*p1))
    return figures


def charts(
    window: Window,
    now: datetime,
    per_step: kpis.KpiTable,
    volume_rows: list[dict[str, Any]],
    backlog: list[list[int]],
) -> list[Chart]:
    """Opened vs resolved, backlog by age, MTTR and SLA compliance per day or week, from the
    period's kpi_table and `volume` by step and `backlog_at(chart_ends(window, now))`."""
    buckets = window.buckets()
    keys = [key for key, _, _ in buckets]
    labels = tuple(_short(key) for key in keys)
    volume = {row["period"]: row for row in volume_rows}
    per = {row["key"]: row for row in per_step.groups}
    backlog = backlog + [[0] * len(AGE_BUCKETS)] * (len(buckets) - len(backlog))
    unit = "day" if window.step == "day" else "week (starting Monday)"
    longest = max((r.get("mttr_seconds") or 0.0 for r in per.values()), default=0.0)
    hours = longest >= 2 * 3600  # short durations read better in minutes

    def col(name: str, scale: float = 1.0) -> tuple[float | None, ...]:
        values = (per.get(k, {}).get(name) for k in keys)
        return tuple(None if v is None else v / scale for v in values)

    def moved(name: str) -> tuple[float | None, ...]:
        return tuple(float(volume[k][name]) if k in volume else 0.0 for k in keys)

    future = [start > now for _, start, _ in buckets]
    return [
        Chart(
            "opened-resolved",
            "Opened and resolved",
            f"Incidents opened and incidents resolved per {unit}.",
            "bars",
            "count",
            labels,
            (Series("Opened", moved("opened")), Series("Resolved", moved("resolved"))),
        ),
        Chart(
            "backlog",
            "Backlog by age",
            f"Incidents open at the end of each {unit}, stacked by age since opening.",
            "stacked",
            "count",
            labels,
            tuple(
                Series(
                    name,
                    tuple(
                        None if gone else float(b[i])
                        for b, gone in zip(backlog, future, strict=True)
                    ),
                )
                for i, name in enumerate(AGE_LABELS)
            ),
        ),
        Chart(
            "mttr",
            "Time to resolve",
            f"MTTR mean and median in {'hours' if hours else 'minutes'} of the incidents "
            f"opened each {unit}; gaps where none was resolved.",
            "lines",
            "hours" if hours else "minutes",
            labels,
            (
                Series("Mean", col("mttr_seconds", 3600 if hours else 60)),
                Series("Median", col("mttr_median_seconds", 3600 if hours else 60)),
            ),
        ),
        Chart(
            "sla",
            "SLA compliance",
            f"Share of decided SLA clocks met, of the incidents opened each {unit}; gaps where "
            "no clock was decided.",
            "lines",
            "rate",
            labels,
            (
                Series("Response", col("sla_response_met_rate")),
                Series("Resolution", col("sla_resolution_met_rate")),
            ),
        ),
    ]


def chart_ends(window: Window, now: datetime) -> list[datetime]:
    """The instants of the backlog chart: the end of each day or week begun by `now`."""
    return [min(end, now) for _, start, end in window.buckets() if start <= now]


@dataclass
class Page:
    """Every figure of one dashboard page."""

    table: kpis.KpiTable  # the breakdown
    current: dict[str, Any]
    previous: dict[str, Any]
    charts: list[Chart]


def page(
    session: Session, actor: Actor, flt: ReportFilter, window: Window, now: datetime, by: str
) -> Page:
    """The breakdown by `by`, the tiles of the period and of the one before, and the charts,
    with as few queries as the figures allow: one kpi_tables call per period (the breakdown,
    the business-time totals and the chart's table by step share one aggregate and one median
    query), one backlog_at for the chart and both tiles, the resolved count from the chart's
    volume."""
    if by not in BREAKDOWNS:
        raise ValueError(f"cannot break down by {by!r}")
    scoped = dated(flt, window)
    table, business, per_step = kpis.kpi_tables(
        session, actor, scoped, [(by, False), (None, True), (window.step, False)]
    )
    before = dated(flt, window.previous)
    wall_before, business_before = kpis.kpi_tables(
        session, actor, before, [(None, False), (None, True)]
    )
    volume_rows = kpis.volume(session, actor, scoped, period=window.step)
    ends = chart_ends(window, now)
    *backlog, at_end, at_start = backlog_at(
        session, actor, flt, [*ends, min(window.end, now), min(window.previous.end, now)]
    )
    current = summary(
        session,
        actor,
        flt,
        window,
        (table, business),
        resolved=sum(int(row["resolved"]) for row in volume_rows),
        backlog=sum(at_end),
    )
    previous = summary(
        session,
        actor,
        flt,
        window.previous,
        (wall_before, business_before),
        resolved=_resolved(session, actor, before),
        backlog=sum(at_start),
    )
    return Page(table, current, previous, charts(window, now, per_step, volume_rows, backlog))


def _resolved(session: Session, actor: Actor, flt: ReportFilter) -> int:
    return sum(int(row["resolved"]) for row in kpis.volume(session, actor, flt, period="month"))


def _short(key: str) -> str:
    """'2026-03-09' → '9 Mar' for the x axis."""
    day = datetime.strptime(key, "%Y-%m-%d")
    return f"{day.day} {day:%b}"


BREAKDOWNS: dict[str, str] = {
    "group": "Group",
    "customer": "Customer",
    "service": "Service",
    "category": "Category",
}


def filter_options(session: Session) -> dict[str, list[tuple[int, str]]]:
    """Ids and names for the filter drop-downs (catalogue names, visible to all staff)."""
    options: dict[str, list[tuple[int, str]]] = {}
    for name, model in (
        ("customer", Customer),
        ("service", Service),
        ("category", Category),
        ("group", SupportGroup),
    ):
        rows = session.execute(select(model.id, model.name).order_by(model.name, model.id))
        options[name] = [(int(i), str(n)) for i, n in rows]
    return options
