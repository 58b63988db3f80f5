"""The self-service portal's plain words (pure): urgency choices, the progress line, how a
state reads to a requester, and how a request is told apart from an incident."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dutydesk.incidents.lifecycle import PENDING, Status


class Kind(StrEnum):
    incident = "incident"
    request = "request"


class UrgencyChoice(StrEnum):
    blocking = "blocking"
    workaround = "workaround"
    can_wait = "can_wait"


URGENCY_LABELS = {
    UrgencyChoice.blocking: "It stops my work",
    UrgencyChoice.workaround: "I can work around it",
    UrgencyChoice.can_wait: "It can wait",
}


def urgency_level(choice: UrgencyChoice, levels: int) -> int:
    """The matrix level of a plain-words urgency: the top, the middle or the bottom row."""
    if choice == UrgencyChoice.blocking:
        return 1
    if choice == UrgencyChoice.can_wait:
        return levels
    return (levels + 1) // 2


def kind_of(is_service_request: bool) -> Kind:
    """A record flagged as a service request (by the requester, a rule or an agent) reads as a
    request in the portal."""
    return Kind.request if is_service_request else Kind.incident


@dataclass(frozen=True)
class Step:
    label: str
    state: str  # done | current | todo


STEPS = ("Logged", "Being worked on", "Waiting for you", "Resolved", "Closed")


def stage(status: Status) -> int:
    """Where a state stands on the progress line (an index into STEPS)."""
    if status == Status.new:
        return 0
    if status == Status.pending_user:
        return 2
    if status == Status.resolved:
        return 3
    if status in (Status.closed, Status.cancelled):
        return 4
    return 1  # assigned, in progress, waiting for a supplier or a change


def progress(status: Status) -> list[Step]:
    """The progress line; "waiting for you" is skipped unless the desk is waiting now."""
    at = stage(status)
    steps = []
    for index, label in enumerate(STEPS):
        if index == 2 and at != 2:
            continue
        if index == 4 and status == Status.cancelled:
            label = "Cancelled"
        state = "done" if index < at else "current" if index == at else "todo"
        if status == Status.closed and index == at:
            state = "done"
        steps.append(Step(label, state))
    return steps


def status_label(status: Status) -> str:
    """The step a state stands at, in one or two words (lists)."""
    return "Cancelled" if status == Status.cancelled else STEPS[stage(status)]


def plain_status(status: Status) -> str:
    """How a state reads to a requester."""
    if status == Status.new:
        return "Logged: the service desk will pick it up soon"
    if status == Status.pending_user:
        return "Waiting for you: the service desk needs your answer"
    if status in PENDING:
        return "Being worked on: waiting for a supplier or a planned change"
    if status == Status.resolved:
        return "Resolved: please confirm it is fixed"
    if status == Status.closed:
        return "Closed"
    if status == Status.cancelled:
        return "Cancelled"
    return "Being worked on"


def size_label(size: int) -> str:
    """A file size as people read it."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def badge_of(status: Status) -> str:
    """The CSS badge modifier of a state (pending states share one)."""
    return "pending" if status in PENDING else status.value
