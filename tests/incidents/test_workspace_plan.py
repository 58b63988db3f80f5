"""The workspace's tab counts are index ranges on both databases (no scan of the open set)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from dutydesk.access.policy import Actor, Role
from dutydesk.incidents import queries, queues
from dutydesk.models import Incident

AGENT = Actor(user_id=7, name="agent", role=Role.agent, group_ids=frozenset({3}), channel="web")


def plans(session, tab: str) -> list[str]:  # type: ignore[no-untyped-def]
    now = datetime(2026, 12, 1, tzinfo=UTC)
    flt = queues.tab_filter(queues.get_tab(tab), AGENT, queries.IncidentFilter(), now=now, hours=4)
    bind = session.get_bind()
    shown = []
    for part in queues.count_parts(flt):
        capped = queries._filtered(AGENT, part).with_only_columns(Incident.id).limit(1001)
        stmt = select(func.count()).select_from(capped.subquery())
        sql = str(stmt.compile(dialect=bind.dialect, compile_kwargs={"literal_binds": True}))
        if bind.dialect.name == "sqlite":
            rows = session.execute(text("EXPLAIN QUERY PLAN " + sql)).all()
            shown.append("\n".join(str(r[-1]) for r in rows))
        else:
            for knob in ("enable_seqscan", "enable_bitmapscan"):  # tiny test tables
                session.execute(text(f"SET LOCAL {knob} = off"))
            shown.append("\n".join(r[0] for r in session.execute(text("EXPLAIN " + sql)).all()))
    return shown


@pytest.mark.parametrize(
    ("tab", "indexes"),
    [
        ("breaching", ["ix_incident_open_resolve_by", "ix_incident_open_respond_by"]),
        ("unassigned", ["ix_incident_open_unassigned", "ix_incident_open_unassigned"]),
    ],
)
def test_or_shaped_tabs_count_with_one_index_range_each(session, tab, indexes) -> None:  # type: ignore[no-untyped-def]
    for plan, index in zip(plans(session, tab), indexes, strict=True):
        assert index in plan, plan
