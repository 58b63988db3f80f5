"""The ITIL incident lifecycle as data: states, actions, and the transition table (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Status(StrEnum):
    new = "new"
    assigned = "assigned"
    in_progress = "in_progress"
    pending_user = "pending_user"
    pending_vendor = "pending_vendor"
    pending_change = "pending_change"
    resolved = "resolved"
    closed = "closed"
    cancelled = "cancelled"


class Action(StrEnum):
    assign = "assign"
    start = "start"
    pend = "pend"
    resume = "resume"
    resolve = "resolve"
    confirm = "confirm"
    reopen = "reopen"
    close = "close"
    cancel = "cancel"
    escalate = "escalate"


PENDING = frozenset({Status.pending_user, Status.pending_vendor, Status.pending_change})
OPEN = frozenset({Status.new, Status.assigned, Status.in_progress}) | PENDING
TERMINAL = frozenset({Status.closed, Status.cancelled})
# Clock-stopping states by default; the SLA policy may narrow this list.
PAUSES_SLA = frozenset({Status.pending_user, Status.pending_vendor})

AGENTS = frozenset({"agent", "incident_manager", "admin"})
EVERYONE = AGENTS | {"requester"}


@dataclass(frozen=True)
class Transition:
    rule_id: str
    source: Status
    action: Action
    target: Status
    by: frozenset[str] = AGENTS


def _rows() -> list[Transition]:
    s, a = Status, Action
    rows = [
        Transition("ASG-1", s.new, a.assign, s.assigned),
        Transition("ASG-2", s.assigned, a.assign, s.assigned),
        Transition("ASG-3", s.in_progress, a.assign, s.assigned),
        Transition("STA-1", s.new, a.start, s.in_progress),
        Transition("STA-2", s.assigned, a.start, s.in_progress),
        Transition("ESC-1", s.new, a.escalate, s.assigned),
        Transition("ESC-2", s.assigned, a.escalate, s.assigned),
        Transition("ESC-3", s.in_progress, a.escalate, s.assigned),
        Transition("CNF-1", s.resolved, a.confirm, s.closed, EVERYONE),
        Transition("ROP-1", s.resolved, a.reopen, s.in_progress, EVERYONE),
        # After the reopen window, or once closed, a reopen opens a linked follow-up.
        Transition("ROP-2", s.closed, a.reopen, s.closed, EVERYONE),
        Transition("ROP-3", s.resolved, a.reopen, s.resolved, EVERYONE),
        Transition("CLS-1", s.resolved, a.close, s.closed),
    ]
    for n, src in enumerate(sorted(OPEN), start=1):
        rows.append(Transition(f"RSV-{n}", src, a.resolve, s.resolved))
        rows.append(Transition(f"CAN-{n}", src, a.cancel, s.cancelled))
    for n, src in enumerate(sorted({s.new, s.assigned, s.in_progress} | PENDING), start=1):
        for m, dst in enumerate(sorted(PENDING), start=1):
            if src != dst:
                rows.append(Transition(f"PND-{n}{m}", src, a.pend, dst))
    for n, src in enumerate(sorted(PENDING), start=1):
        rows.append(Transition(f"RES-{n}", src, a.resume, s.in_progress))
        rows.append(Transition(f"ASG-{3 + n}", src, a.assign, s.assigned))
        rows.append(Transition(f"ESC-{3 + n}", src, a.escalate, s.assigned))
    return rows


TRANSITIONS: tuple[Transition, ...] = tuple(_rows())


class InvalidTransition(Exception):
    def __init__(self, status: Status, action: str, allowed: list[str]) -> None:
        super().__init__(f"'{action}' is not allowed while the incident is {status}")
        self.status = status
        self.action = action
        self.allowed = allowed


def allowed_actions(status: Status, role: str) -> list[str]:
    """The actions a role may take from a state, in table order, without duplicates."""
    seen: dict[str, None] = {}
    for row in TRANSITIONS:
        if row.source == status and role in row.by:
            seen.setdefault(row.action.value, None)
    return list(seen)


def next_transition(
    status: Status, action: Action, role: str, *, target: Status | None = None
) -> Transition:
    """The row that applies; `target` picks among rows of one action (pend)."""
    rows = [r for r in TRANSITIONS if r.source == status and r.action == action and role in r.by]
    if target is not None:
        rows = [r for r in rows if r.target == target]
    if len(rows) != 1:
        raise InvalidTransition(status, action.value, allowed_actions(status, role))
    return rows[0]


def next_status(
    status: Status, action: Action, role: str, *, target: Status | None = None
) -> Status:
    return next_transition(status, action, role, target=target).target


def is_within_reopen_window(resolved_at: datetime, now: datetime, window: timedelta) -> bool:
    """ROP-1 applies within the window after resolution; ROP-2 (follow-up) after it."""
    return now - resolved_at <= window


def missing_resolution_fields(
    code: str | None, notes: str | None, is_workaround: bool | None
) -> list[str]:
    """Guard for resolve: a code, notes, and whether it was a workaround or a fix."""
    missing = []
    if not (code and code.strip()):
        missing.append("resolution_code")
    if not (notes and notes.strip()):
        missing.append("resolution_notes")
    if is_workaround is None:
        missing.append("is_workaround")
    return missing
