"""The open queue is answered from the partial indexes on both databases (no sort, no scan)."""

from __future__ import annotations

from sqlalchemy import text

from dutydesk.access.policy import system_actor
from dutydesk.incidents import queries
from dutydesk.models import Incident


def plan(session, group_id: int | None) -> str:  # type: ignore[no-untyped-def]
    flt = queries.IncidentFilter(
        states=queries.parse_states("open"), group_ids=[group_id] if group_id else []
    )
    columns = queries.parse_sort("priority,opened_at")
    query = (
        queries._filtered(system_actor(), flt).order_by(*[c.asc() for c, _ in columns]).limit(51)
    )
    bind = session.get_bind()
    sql = str(query.compile(dialect=bind.dialect, compile_kwargs={"literal_binds": True}))
    if bind.dialect.name == "sqlite":
        rows = session.execute(text("EXPLAIN QUERY PLAN " + sql)).all()
        return "\n".join(str(r[-1]) for r in rows)
    for knob in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):  # tiny test tables
        session.execute(text(f"SET LOCAL {knob} = off"))
    return "\n".join(r[0] for r in session.execute(text("EXPLAIN " + sql)).all())


def test_group_queue_uses_the_partial_group_index(session, cast) -> None:
    shown = plan(session, cast.desk.id)
    assert "ix_incident_open_group" in shown, shown
    assert "TEMP B-TREE" not in shown and "Sort" not in shown, shown


def test_whole_queue_uses_the_partial_queue_index(session, cast) -> None:
    shown = plan(session, None)
    assert "ix_incident_open_queue" in shown, shown
    assert "TEMP B-TREE" not in shown and "Sort" not in shown, shown


def test_other_state_lists_still_filter(session, cast) -> None:
    flt = queries.IncidentFilter(states=queries.parse_states("resolved,closed"))
    sql = str(queries._filtered(system_actor(), flt))
    assert "incident.state IN" in sql and Incident.__tablename__ in sql
