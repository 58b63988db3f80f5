"""The KPIs of docs/kpis.md, computed in the database with grouped SQL aggregates.

Every function takes the caller's Actor and adds ``incident_visibility`` to its WHERE clause,
so a report counts exactly the incidents the caller may see. Sums and counts come back from
SQL and are divided here, so a KPI whose denominator is empty is ``None`` (never 0).
Business-time durations come from the SLA clocks (see docs/kpis.md, "Business time").
Medians: percentile_cont on PostgreSQL; on SQLite (which has none) the durations are read and
sorted here. ``kpi_tables`` serves several groupings of the same incidents with one aggregate
and one median query (the dashboard); ``kpi_table`` is one of them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
    tuple_,
)
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, incident_visibility
from dutydesk.models import (
    Category,
    ConfigurationItem,
    Customer,
    Incident,
    Service,
    SlaClock,
    SupportGroup,
)
from dutydesk.models.incident import OPEN_STATES_SQL
from dutydesk.reports.sql import PERIODS, period_start, seconds_between

ENTITY_FIELDS: dict[str, tuple[Any, Any]] = {
    "category": (Incident.category_id, Category),
    "group": (Incident.assignment_group_id, SupportGroup),
    "customer": (Incident.customer_id, Customer),
    "service": (Incident.service_id, Service),
    "ci": (Incident.ci_id, ConfigurationItem),
}
PLAIN_FIELDS: dict[str, Any] = {
    "priority": Incident.priority,
    "channel": Incident.channel,
    "state": Incident.state,
}
GROUP_FIELDS = (*PLAIN_FIELDS, *ENTITY_FIELDS, *PERIODS)
AGE_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("age_under_1d", timedelta(days=1)),
    ("age_1d_3d", timedelta(days=3)),
    ("age_3d_7d", timedelta(days=7)),
    ("age_7d_30d", timedelta(days=30)),
    ("age_over_30d", None),
)
REASSIGNMENT_BUCKETS = 5  # 0, 1, 2, 3, 4 and "5+"


@dataclass(frozen=True)
class ReportFilter:
    """Which incidents a report covers; empty tuples mean "any"."""

    opened_from: datetime | None = None
    opened_to: datetime | None = None
    customer_ids: tuple[int, ...] = ()
    service_ids: tuple[int, ...] = ()
    ci_ids: tuple[int, ...] = ()
    category_ids: tuple[int, ...] = ()
    group_ids: tuple[int, ...] = ()
    priorities: tuple[int, ...] = ()
    channels: tuple[str, ...] = ()


def _conditions(
    actor: Actor, flt: ReportFilter, *, dates: bool = True
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [incident_visibility(actor)]
    if dates and flt.opened_from is not None:
        where.append(Incident.opened_at >= flt.opened_from)
    if dates and flt.opened_to is not None:
        where.append(Incident.opened_at < flt.opened_to)
    for column, values in (
        (Incident.customer_id, flt.customer_ids),
        (Incident.service_id, flt.service_ids),
        (Incident.ci_id, flt.ci_ids),
        (Incident.assignment_group_id, flt.group_ids),
        (Incident.priority, flt.priorities),
        (Incident.channel, flt.channels),
    ):
        if values:
            where.append(column.in_(values))
    if flt.category_ids:
        where.append(
            or_(
                Incident.category_id.in_(flt.category_ids),
                Incident.subcategory_id.in_(flt.category_ids),
            )
        )
    return where


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _key(dialect: str, group_by: str | None, column: Any = Incident.opened_at) -> Any:
    if group_by is None:
        return literal(None)
    if group_by in PLAIN_FIELDS:
        return PLAIN_FIELDS[group_by]
    if group_by in ENTITY_FIELDS:
        return ENTITY_FIELDS[group_by][0]
    if group_by in PERIODS:
        return period_start(dialect, group_by, column)
    raise ValueError(f"cannot group by {group_by!r}; use one of {', '.join(GROUP_FIELDS)}")


def _labels(session: Session, group_by: str | None, keys: Sequence[Any]) -> dict[Any, Any]:
    """Entity ids → names (a group's key is its name; the id is kept as key_id)."""
    if group_by not in ENTITY_FIELDS:
        return {k: k for k in keys}
    model = ENTITY_FIELDS[group_by][1]
    ids = sorted(k for k in keys if k is not None)
    names: dict[Any, Any] = dict(
        session.execute(select(model.id, model.name).where(model.id.in_(ids))).all()
    )
    return {k: names.get(k) if k is not None else None for k in keys}


def _ratio(numerator: float | int | None, denominator: float | int | None) -> float | None:
    if not denominator or numerator is None:
        return None
    return round(float(numerator) / float(denominator), 6)


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


# ----------------------------------------------------------------------------- the KPI table

KPI_KEYS = (
    "count",
    "mtta_seconds",
    "mttr_seconds",
    "mttr_median_seconds",
    "fcr_rate",
    "reopen_rate",
    "reassignment_mean",
    "escalation_rate",
    "sla_response_met_rate",
    "sla_resolution_met_rate",
    "csat_mean",
    "csat_response_rate",
)


@dataclass
class _Sums:
    """Additive partial results of one group; the KPIs are ratios of these."""

    count: int = 0
    ack_sum: float = 0.0
    ack_n: int = 0
    res_sum: float = 0.0
    res_n: int = 0
    resolved: int = 0
    fcr: int = 0
    reopened: int = 0
    ever_resolved: int = 0
    reassignments: int = 0
    escalated: int = 0
    resp_decided: int = 0
    resp_met: int = 0
    resl_decided: int = 0
    resl_met: int = 0
    csat_sum: float = 0.0
    csat_n: int = 0
    closed: int = 0

    def add(self, other: _Sums) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def kpis(self, median: float | None) -> dict[str, Any]:
        return {
            "count": self.count,
            "mtta_seconds": _seconds(self.ack_sum / self.ack_n if self.ack_n else None),
            "mttr_seconds": _seconds(self.res_sum / self.res_n if self.res_n else None),
            "mttr_median_seconds": _seconds(median),
            "fcr_rate": _ratio(self.fcr, self.resolved),
            "reopen_rate": _ratio(self.reopened, self.ever_resolved),
            "reassignment_mean": _ratio(self.reassignments, self.count),
            "escalation_rate": _ratio(self.escalated, self.count),
            "sla_response_met_rate": _ratio(self.resp_met, self.resp_decided),
            "sla_resolution_met_rate": _ratio(self.resl_met, self.resl_decided),
            "csat_mean": _ratio(self.csat_sum, self.csat_n),
            "csat_response_rate": _ratio(self.csat_n, self.closed),
        }


@dataclass
class KpiTable:
    group_by: str | None
    business: bool
    groups: list[dict[str, Any]] = field(default_factory=list)
    total: dict[str, Any] = field(default_factory=dict)


def _clock_summary(ids: tuple[int, int]) -> Any:
    """Per incident of the report: its response/resolution clocks folded into one row. `ids`
    is the lowest and highest id of the report's incidents: the clocks are read by that range
    of ix_sla_clock_incident. The window's incidents are mostly consecutive rows, so this reads
    about their clocks only; the join in kpi_tables drops those of other incidents in the
    range (a semi-join on the report's incidents here made PostgreSQL scan every clock, and
    cost more than it saved once the range is there)."""
    decided = or_(
        SlaClock.breached_at.is_not(None),
        and_(
            SlaClock.stopped_at.is_not(None),
            func.coalesce(SlaClock.stop_reason, "") != "cancelled",
        ),
    )
    stopped = and_(
        SlaClock.stopped_at.is_not(None), func.coalesce(SlaClock.stop_reason, "") != "cancelled"
    )

    def flag(kind: str, cond: ColumnElement[bool]) -> Any:
        return func.max(case((and_(SlaClock.kind == kind, cond), 1), else_=0))

    def used(kind: str) -> Any:
        return func.max(case((and_(SlaClock.kind == kind, stopped), SlaClock.elapsed_before)))

    return (
        select(
            SlaClock.incident_id.label("incident_id"),
            flag("response", decided).label("resp_decided"),
            flag("response", SlaClock.breached_at.is_not(None)).label("resp_breached"),
            flag("resolution", decided).label("resl_decided"),
            flag("resolution", SlaClock.breached_at.is_not(None)).label("resl_breached"),
            used("response").label("resp_business"),
            used("resolution").label("resl_business"),
        )
        .where(
            SlaClock.incident_id.between(*ids),
            SlaClock.kind.in_(("response", "resolution")),
        )
        .group_by(SlaClock.incident_id)
        .subquery("clk")
    )


Spec = tuple[str | None, bool]  # (group_by, business): one table of kpi_tables


def kpi_table(
    session: Session,
    actor: Actor,
    flt: ReportFilter,
    *,
    group_by: str | None = None,
    business: bool = False,
) -> KpiTable:
    """Every per-incident KPI of docs/kpis.md, per group and in total (two queries)."""
    return kpi_tables(session, actor, flt, [(group_by, business)])[0]


def kpi_tables(
    session: Session, actor: Actor, flt: ReportFilter, specs: Sequence[Spec]
) -> list[KpiTable]:
    """Several KPI tables of the same incidents, one per (group_by, business) of `specs`, from
    one aggregate query and one median query in all: the sums are grouped by every key asked
    for at once and added up here per table (they are additive), with the wall-clock and the
    business-time durations side by side; the medians rank each (key, duration) partition in
    the same pass. The tables equal those of separate kpi_table calls."""
    dialect = _dialect(session)
    _tune(session, dialect)
    where = _conditions(actor, flt)
    # count(*) beside min/max keeps PostgreSQL on the opened_at index (min(id) alone walks
    # the primary key filtering on opened_at: 0.4 s).
    count, lowest, highest = session.execute(
        select(func.count(), func.min(Incident.id), func.max(Incident.id)).where(*where)
    ).one()
    if not count:  # no incident: empty tables, every KPI None
        return [
            KpiTable(group_by=g, business=b, total={"key": None, **_Sums().kpis(None)})
            for g, b in specs
        ]
    names = list(dict.fromkeys(g for g, _ in specs if g is not None))
    keys = [_key(dialect, g).label(f"k{i}") for i, g in enumerate(names)]
    kinds = sorted({b for _, b in specs})  # False (wall clock) and/or True (business time)
    clk = _clock_summary((lowest, highest))
    resolved = Incident.resolved_at.is_not(None)
    durations: dict[bool, tuple[Any, Any]] = {}  # business? -> (time to ack, to resolve)
    for business in kinds:
        if business:
            durations[business] = (
                case((Incident.acknowledged_at.is_not(None), clk.c.resp_business)),
                case((resolved, clk.c.resl_business)),
            )
        else:
            durations[business] = (
                seconds_between(dialect, Incident.acknowledged_at, Incident.opened_at),
                seconds_between(dialect, Incident.resolved_at, Incident.opened_at),
            )

    def count_if(cond: ColumnElement[bool]) -> Any:
        return func.count().filter(cond)  # COUNT(*) FILTER (WHERE …): both databases

    timed = [
        f(x) for b in kinds for x in durations[b] for f in (func.sum, func.count)
    ]  # per kind: sum(ack), count(ack), sum(res), count(res)
    query = (
        select(
            *keys,
            func.count().label("count"),
            *timed,
            count_if(resolved),
            count_if(and_(resolved, Incident.reassignment_count == 0, Incident.reopen_count == 0)),
            count_if(Incident.reopen_count > 0),
            count_if(or_(resolved, Incident.reopen_count > 0)),
            func.coalesce(func.sum(Incident.reassignment_count), 0),
            count_if(Incident.escalation_level > 1),
            count_if(clk.c.resp_decided == 1),
            count_if(and_(clk.c.resp_decided == 1, clk.c.resp_breached == 0)),
            count_if(clk.c.resl_decided == 1),
            count_if(and_(clk.c.resl_decided == 1, clk.c.resl_breached == 0)),
            func.sum(Incident.csat_rating),
            func.count(Incident.csat_rating),
            count_if(Incident.closed_at.is_not(None)),
        )
        .select_from(Incident)
        .outerjoin(clk, clk.c.incident_id == Incident.id)
        .where(*where)
        .group_by(*keys)
    )
    sums: list[dict[Any, _Sums]] = [{} for _ in specs]
    n = len(keys)
    for row in session.execute(query):
        values = [_number(v) for v in row[n:]]
        count, rest = values[0], values[1 + 4 * len(kinds) :]
        if not count:
            continue  # an ungrouped aggregate over nothing still returns one row
        for into, (group_by, business) in zip(sums, specs, strict=True):
            at = 1 + 4 * kinds.index(business)
            k = row[names.index(group_by)] if group_by is not None else None
            into.setdefault(k, _Sums()).add(_Sums(count, *values[at : at + 4], *rest))
    medians = _medians(
        session,
        where,
        dict(zip(names, keys, strict=True)),
        {b: durations[b][1] for b in kinds},
        specs,
        clk if True in kinds else None,
    )
    tables = []
    for table_sums, (group_by, business), (per_key, total_median) in zip(
        sums, specs, medians, strict=True
    ):
        labels = _labels(session, group_by, list(table_sums))
        table = KpiTable(group_by=group_by, business=business)
        total = _Sums()
        for k in sorted(table_sums, key=_sort_key):
            total.add(table_sums[k])
            entry: dict[str, Any] = {"key": labels[k]}
            if group_by in ENTITY_FIELDS:
                entry["key_id"] = k
            entry.update(table_sums[k].kpis(per_key.get(k)))
            table.groups.append(entry)
        table.total = {"key": None, **total.kpis(total_median)}
        tables.append(table)
    return tables


def _tune(session: Session, dialect: str) -> None:
    """PostgreSQL, for the rest of this transaction: no JIT (compiling the report queries
    cost more than running them) and room for their sorts and hashes in memory."""
    if dialect == "postgresql":
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL work_mem = '32MB'"))


def _number(value: Any) -> Any:
    """SUM of integers is NUMERIC in PostgreSQL; counts stay int, sums of seconds float."""
    if value is None:
        return 0
    return float(value) if isinstance(value, Decimal | float) else int(value)


def _sort_key(value: Any) -> tuple[int, Any]:
    return (1, "") if value is None else (0, value)


Found = dict[tuple[str | None, bool], dict[Any, float]]  # (group_by, business) -> key -> median


def _medians(
    session: Session,
    where: list[ColumnElement[bool]],
    keys: dict[str, Any],
    values: dict[bool, Any],
    specs: Sequence[Spec],
    clk: Any,
) -> list[tuple[dict[Any, float], float | None]]:
    """Medians per group and overall of each spec's time to resolve (the middle value, or the
    mean of the two middle ones; NULLs, e.g. no business time, left out), per spec: (median
    by key, overall median). One query over the resolved incidents (keys and both kinds of
    duration): PostgreSQL aggregates it with percentile_cont (a third of the server CPU of the
    window functions used before); SQLite has no percentile_cont and its window functions
    cost 0.55 s of CPU per table over 80,000 durations, so the durations are read and sorted
    here (~5x faster)."""
    kinds = sorted(values)
    query = (
        select(*keys.values(), *(values[b].label(f"d{int(b)}") for b in kinds))
        .select_from(Incident)
        .where(*where, Incident.resolved_at.is_not(None))
    )
    if clk is not None:  # business time: the durations come from the clocks
        query = query.outerjoin(clk, clk.c.incident_id == Incident.id)
    wanted = list(dict.fromkeys(w for g, b in specs for w in ((g, b), (None, b))))
    if _dialect(session) == "postgresql":
        found = _percentiles(session, query, list(keys), kinds, wanted)
    else:
        found = _sorted_middles(session, query, list(keys), kinds, wanted)
    result = []
    for group_by, business in specs:
        total = found.get((None, business), {})
        per_key = found.get((group_by, business), {}) if group_by is not None else total
        result.append((per_key, total.get(None)))
    return result


def _sorted_middles(
    session: Session, query: Any, names: list[str], kinds: list[bool], wanted: list[Spec]
) -> Found:
    lists: dict[Spec, dict[Any, list[float]]] = {w: defaultdict(list) for w in wanted}
    places = [
        (lists[(g, b)], names.index(g) if g is not None else None, len(names) + kinds.index(b))
        for g, b in wanted
    ]
    for row in session.execute(query):
        for into, key_at, value_at in places:
            d = row[value_at]
            if d is not None:
                into[row[key_at] if key_at is not None else None].append(d)
    return {w: {k: _middle(v) for k, v in per.items()} for w, per in lists.items()}


def _middle(values: list[float]) -> float:
    values.sort()
    half = len(values) // 2
    if len(values) % 2:
        return float(values[half])
    return (float(values[half - 1]) + float(values[half])) / 2


def _percentiles(
    session: Session, query: Any, names: list[str], kinds: list[bool], wanted: list[Spec]
) -> Found:
    """percentile_cont(0.5) (the mean of the two middle values for an even count; NULLs left
    out) with one grouping set per key asked for and one for the total."""
    sub = query.subquery("durations")
    cols = [sub.c[f"k{i}"] for i in range(len(names))]
    sets = list(dict.fromkeys(g for g, _ in wanted if g is not None))
    rows = session.execute(
        select(
            *cols,
            func.grouping(*cols) if cols else literal(0),
            *(func.percentile_cont(0.5).within_group(sub.c[f"d{int(b)}"]) for b in kinds),
        ).group_by(func.grouping_sets(*(tuple_(cols[names.index(g)]) for g in sets), tuple_()))
    )
    full = (1 << len(names)) - 1  # GROUPING(): a bit per key left out of the row's set
    found: Found = defaultdict(dict)
    for row in rows:
        mask, medians = row[len(names)], row[len(names) + 1 :]
        for i, g in enumerate([*names, None]):
            if g is None and mask == full:
                at = None
            elif g is not None and mask == full & ~(1 << (len(names) - 1 - i)):
                at = row[i]
            else:
                continue
            for b, median in zip(kinds, medians, strict=True):
                if median is not None:
                    found[(g, b)][at] = float(median)
    return found


# ----------------------------------------------------------------------------- other tables


def backlog(
    session: Session,
    actor: Actor,
    flt: ReportFilter,
    *,
    now: datetime,
    group_by: str | None = None,
) -> list[dict[str, Any]]:
    """Open incidents now, by age since opening (the filter's dates bound opened_at too)."""
    dialect = _dialect(session)
    key = _key(dialect, group_by).label("key")
    buckets: list[Any] = []
    lower: datetime | None = None
    for name, upper in AGE_BUCKETS:
        conds: list[ColumnElement[bool]] = []
        if upper is not None:
            conds.append(Incident.opened_at > now - upper)
        if lower is not None:
            conds.append(Incident.opened_at <= lower)
        cond = and_(*conds) if conds else true()
        buckets.append(func.coalesce(func.sum(case((cond, 1), else_=0)), 0).label(name))
        lower = now - upper if upper is not None else None
    keys = [key] if group_by else [literal_column("NULL").label("key")]
    query = (
        select(*keys, func.count().label("open"), *buckets, func.min(Incident.opened_at))
        .where(*_conditions(actor, flt), text(OPEN_STATES_SQL))
        .group_by(*keys[: 1 if group_by else 0])
    )
    rows = [r for r in session.execute(query).all() if r[1]]
    labels = _labels(session, group_by, [r[0] for r in rows])
    result = []
    for row in sorted(rows, key=lambda r: _sort_key(r[0])):
        entry: dict[str, Any] = {"key": labels[row[0]], "open": row[1]}
        entry.update({name: int(v) for (name, _), v in zip(AGE_BUCKETS, row[2:-1], strict=True)})
        entry["oldest_age_seconds"] = round((now - row[-1]).total_seconds(), 3)
        result.append(entry)
    return result


def volume(
    session: Session, actor: Actor, flt: ReportFilter, *, period: str = "week"
) -> list[dict[str, Any]]:
    """Incidents opened and resolved per period: opened by opened_at, resolved by
    resolved_at, each within the filter's date range."""
    dialect = _dialect(session)
    opened_key = period_start(dialect, period, Incident.opened_at).label("period")
    opened = session.execute(
        select(opened_key, func.count()).where(*_conditions(actor, flt)).group_by(opened_key)
    ).all()
    resolved_key = period_start(dialect, period, Incident.resolved_at).label("period")
    where = _conditions(actor, flt, dates=False)
    where.append(Incident.resolved_at.is_not(None))
    if flt.opened_from is not None:
        where.append(Incident.resolved_at >= flt.opened_from)
    if flt.opened_to is not None:
        where.append(Incident.resolved_at < flt.opened_to)
    resolved = session.execute(
        select(resolved_key, func.count()).where(*where).group_by(resolved_key)
    ).all()
    table: dict[str, dict[str, Any]] = {}
    for name, rows in (("opened", opened), ("resolved", resolved)):
        for period_key, n in rows:
            table.setdefault(period_key, {"period": period_key, "opened": 0, "resolved": 0})[
                name
            ] = n
    return [table[k] for k in sorted(table)]


def reassignment_distribution(
    session: Session, actor: Actor, flt: ReportFilter, *, group_by: str | None = None
) -> list[dict[str, Any]]:
    """How many incidents were reassigned 0, 1, 2, 3, 4 and 5 or more times."""
    dialect = _dialect(session)
    key = _key(dialect, group_by).label("key")
    bucket = case(
        (Incident.reassignment_count >= REASSIGNMENT_BUCKETS, REASSIGNMENT_BUCKETS),
        else_=Incident.reassignment_count,
    ).label("bucket")
    if group_by is None:
        key = literal_column("NULL").label("key")
    grouping = [key, bucket] if group_by else [bucket]
    rows = session.execute(
        select(key, bucket, func.count()).where(*_conditions(actor, flt)).group_by(*grouping)
    ).all()
    labels = _labels(session, group_by, [r[0] for r in rows])
    names = [str(n) for n in range(REASSIGNMENT_BUCKETS)] + [f"{REASSIGNMENT_BUCKETS}+"]
    table: dict[Any, dict[str, Any]] = {}
    for k, b, n in rows:
        entry = table.setdefault(k, {"key": labels[k], **dict.fromkeys(names, 0)})
        entry[names[int(b)]] = n
    return [table[k] for k in sorted(table, key=_sort_key)]
