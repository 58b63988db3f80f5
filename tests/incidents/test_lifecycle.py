"""The lifecycle table, row by row, and the pure guards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dutydesk.incidents.lifecycle import (
    OPEN,
    TRANSITIONS,
    Action,
    InvalidTransition,
    Status,
    allowed_actions,
    is_within_reopen_window,
    missing_resolution_fields,
    next_status,
    next_transition,
)
from dutydesk.models.incident import OPEN_STATES_SQL


@pytest.mark.parametrize(
    "row", TRANSITIONS, ids=lambda r: f"{r.rule_id}:{r.source}-{r.action}->{r.target}"
)
def test_every_row_applies_for_its_roles(row) -> None:
    for role in row.by:
        assert next_transition(row.source, row.action, role, target=row.target) == row
        assert row.action.value in allowed_actions(row.source, role)


@pytest.mark.parametrize("state", list(Status))
@pytest.mark.parametrize("action", list(Action))
def test_pairs_not_in_the_table_are_refused(state: Status, action: Action) -> None:
    rows = [r for r in TRANSITIONS if r.source == state and r.action == action and "agent" in r.by]
    if rows:
        return
    with pytest.raises(InvalidTransition) as info:
        next_status(state, action, "agent")
    assert info.value.allowed == allowed_actions(state, "agent")


def test_rule_ids_are_unique() -> None:
    ids = [r.rule_id for r in TRANSITIONS]
    assert len(ids) == len(set(ids))


def test_close_only_from_resolved() -> None:
    sources = {r.source for r in TRANSITIONS if r.action == Action.close}
    assert sources == {Status.resolved}


def test_terminal_states_allow_nothing_but_a_follow_up() -> None:
    assert allowed_actions(Status.cancelled, "admin") == []
    assert allowed_actions(Status.closed, "agent") == ["reopen"]


def test_requesters_may_only_confirm_or_reopen() -> None:
    for state in Status:
        assert set(allowed_actions(state, "requester")) <= {"confirm", "reopen"}


def test_pend_needs_a_target() -> None:
    with pytest.raises(InvalidTransition):
        next_status(Status.in_progress, Action.pend, "agent")
    assert (
        next_status(Status.in_progress, Action.pend, "agent", target=Status.pending_vendor)
        == Status.pending_vendor
    )


def test_open_states_match_the_partial_index() -> None:
    for state in Status:
        assert (f"'{state.value}'" in OPEN_STATES_SQL) == (state in OPEN)


def test_resolution_guard() -> None:
    assert missing_resolution_fields(None, " ", None) == [
        "resolution_code",
        "resolution_notes",
        "is_workaround",
    ]
    assert missing_resolution_fields("fixed", "replaced disk", False) == []


def test_reopen_window_edges() -> None:
    resolved = datetime(2026, 1, 1, tzinfo=UTC)
    week = timedelta(days=7)
    assert is_within_reopen_window(resolved, resolved + week, week)
    assert not is_within_reopen_window(resolved, resolved + week + timedelta(seconds=1), week)
