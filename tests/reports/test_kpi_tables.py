"""kpi_tables (several tables from one aggregate and one median query) and backlog_at (a grid
instead of a test per point and bucket) give exactly what the plain computations give, on
test_kpis' hand-built history (both databases)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from dutydesk.access.policy import system_actor
from dutydesk.db import Database
from dutydesk.models import Incident
from dutydesk.reports import dashboard
from dutydesk.reports import kpis as report_kpis
from dutydesk.reports.kpis import AGE_BUCKETS, ReportFilter
from tests.reports.test_kpis import FRI, MON, world  # noqa: F401

WEEK = ReportFilter(opened_from=FRI - timedelta(days=3), opened_to=MON + timedelta(days=4))


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize(
    "specs",
    [
        [("group", False), (None, True), ("week", False)],
        [(None, False), (None, True)],
        [("day", True), ("customer", False), ("day", False), ("priority", True)],
    ],
)
def test_kpi_tables_equal_one_kpi_table_per_spec(
    db: Database, specs: list[tuple[str | None, bool]]
) -> None:
    actor = system_actor()
    with db.unit_of_work(write=False) as s:
        together = report_kpis.kpi_tables(s, actor, WEEK, specs)
        alone = [report_kpis.kpi_table(s, actor, WEEK, group_by=g, business=b) for g, b in specs]
    for one, other in zip(together, alone, strict=True):
        assert (one.group_by, one.business) == (other.group_by, other.business)
        assert one.groups == other.groups
        assert one.total == other.total
        assert one.total["count"] == 3


@pytest.mark.usefixtures("world")
def test_backlog_at_counts_like_the_definition(db: Database) -> None:
    points = [FRI + timedelta(hours=h) for h in (-1, 0, 0.5, 1, 66, 67, 69, 75, 24 * 40)]
    with db.unit_of_work(write=False) as s:
        got = dashboard.backlog_at(s, system_actor(), ReportFilter(), points)
        rows = s.execute(
            select(
                Incident.opened_at, Incident.resolved_at, Incident.closed_at, Incident.cancelled_at
            )
        ).all()
    expected = []
    for t in points:
        counts = [0] * len(AGE_BUCKETS)
        for opened, *ends in rows:
            if opened > t or any(e is not None and e <= t for e in ends):
                continue
            age = t - opened
            for k, (_name, upper) in enumerate(AGE_BUCKETS):
                if upper is None or age < upper:
                    counts[k] += 1
                    break
        expected.append(counts)
    assert got == expected
    assert sum(got[1]) == 1 and sum(got[6]) == 1  # A opened at FRI; B and C resolved by then
