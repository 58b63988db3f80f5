"""The kanban board's rules (pure): its columns, and which lifecycle actions move a card from
its state into a column, read from the transition table (``incidents.lifecycle``)."""

from __future__ import annotations

from dataclasses import dataclass

from dutydesk.incidents.lifecycle import PENDING, TRANSITIONS, Action, Status


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    states: frozenset[Status]


COLUMNS: tuple[Column, ...] = (
    Column("new", "New", frozenset({Status.new})),
    Column("assigned", "Assigned", frozenset({Status.assigned})),
    Column("in_progress", "In progress", frozenset({Status.in_progress})),
    Column("pending", "Pending", PENDING),
    Column("resolved", "Resolved", frozenset({Status.resolved})),
)
BOARD_STATES = frozenset(s for c in COLUMNS for s in c.states)
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}

# What an action needs from the person beyond the card itself (the guards in
# ``incidents.actions``): those moves open a small form instead of happening at once.
NEEDS: dict[Action, tuple[str, ...]] = {
    Action.pend: ("target", "reason"),
    Action.resolve: ("resolution_code", "resolution_notes", "is_workaround"),
    Action.reopen: ("reason",),
    Action.cancel: ("reason",),
}


@dataclass(frozen=True)
class Move:
    action: Action
    target: Status


def column_of(state: str) -> Column | None:
    for column in COLUMNS:
        if state in column.states:
            return column
    return None


def moves_into(state: Status, column: Column, role: str) -> list[Move]:
    """The (action, target state) pairs of the table that take `state` into `column` for
    `role`; moves that stay in the same state (re-assigning an assigned card) are no moves."""
    found: list[Move] = []
    for row in TRANSITIONS:
        if (
            row.source == state
            and row.target in column.states
            and row.target != state
            and role in row.by
        ):
            move = Move(row.action, row.target)
            if move not in found:
                found.append(move)
    return found


def needs_input(move: Move, choices: int) -> bool:
    """True when the move cannot run from a drop alone: several moves lead there, or the
    action needs a reason, a pending state or resolution fields."""
    return choices > 1 or bool(NEEDS.get(move.action))


def refusal(state: Status, column: Column) -> str:
    """Why no move leads from `state` into `column`, in words."""
    return f"an incident cannot go from {state.value.replace('_', ' ')} to {column.label.lower()}"
