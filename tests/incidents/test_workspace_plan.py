"""The workspace's tab counts are index ranges on both databases (no scan of the open set)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from dutydesk.access.policy import Actor, Role, incident_visibility
from dutydesk.incidents import queries, queues
from dutydesk.models import Incident, User
from dutydesk.people.queries import build_actor
from tests.factories import new_incident

AGENT = Actor(user_id=7, name="agent", role=Role.agent, group_ids=frozenset({3}), channel="web")


def plans(session, tab: str) -> list[str]:  # type: ignore[no-untyped-def]
    now = datetime(2026, 12, 1, tzinfo=UTC)
    flt = queues.tab_filter(queues.get_tab(tab), AGENT, queries.IncidentFilter(), now=now, hours=4)
    bind = session.get_bind()
    shown = []
    for part, sort in queues.count_parts(flt, queues.get_tab(tab).sort):
        capped = queries._filtered(AGENT, part).with_only_columns(Incident.id).limit(1001)
        if sort is not None:
            capped = capped.order_by(*(c.desc() if d else c for c, d in queries.parse_sort(sort)))
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


def test_leaving_out_the_visibility_or_never_shows_an_agent_more(client, cast, db) -> None:  # type: ignore[no-untyped-def]
    """`visible_anyway` drops the agent's visibility OR only where the filter implies it: the
    lists with and without it are the same for every shape of filter the workspace sends."""
    for caller, group, assignee in (
        (cast.dave, cast.desk, cast.alice),
        (cast.dave, cast.apps, cast.eve),
        (cast.carol, cast.apps, None),
        (cast.carol, cast.desk, None),
        (cast.carol, cast.desk, cast.alice),
        (cast.bob, None, None),
    ):
        fields = {"caller_id": caller.id, "short_description": "seen?"}
        if group is not None:
            fields["assignment_group_id"] = group.id
        if assignee is not None:
            fields["assignee_id"] = assignee.id
        new_incident(client, cast.bob, **fields)
    with db.unit_of_work(write=False) as session:
        user = session.get(User, cast.alice.id)
        alice = build_actor(session, user)
        shapes = [
            queries.IncidentFilter(group_ids=sorted(alice.group_ids)),
            queries.IncidentFilter(group_ids=[cast.desk.id, cast.apps.id]),  # not implied
            queries.IncidentFilter(assignee_ids=[cast.alice.id]),
            queries.IncidentFilter(assignee_ids=[cast.alice.id, cast.eve.id]),  # not implied
            queries.IncidentFilter(),
        ]
        for flt in shapes:
            elided = set(
                session.scalars(queries._filtered(alice, flt).with_only_columns(Incident.id))
            )
            checked = set(
                session.scalars(
                    queries._filtered(alice, flt)
                    .with_only_columns(Incident.id)
                    .where(incident_visibility(alice))
                )
            )
            assert elided == checked, flt
            assert elided or flt.assignee_ids == [cast.alice.id, cast.eve.id] or flt.group_ids
        assert [queries.visible_anyway(alice, flt) for flt in shapes] == [
            True,
            False,
            True,
            False,
            False,
        ]
