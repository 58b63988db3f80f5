"""The service request's fulfilment lifecycle as data (pure): states, actions, transitions."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RequestStatus(StrEnum):
    new = "new"
    approved = "approved"
    fulfilling = "fulfilling"
    fulfilled = "fulfilled"
    closed = "closed"
    cancelled = "cancelled"


class RequestAction(StrEnum):
    approve = "approve"
    start = "start"
    fulfil = "fulfil"
    close = "close"
    cancel = "cancel"


OPEN = frozenset({RequestStatus.new, RequestStatus.approved, RequestStatus.fulfilling})
TERMINAL = frozenset({RequestStatus.closed, RequestStatus.cancelled})
STAFF = frozenset({"agent", "incident_manager", "admin"})
EVERYONE = STAFF | {"requester"}


@dataclass(frozen=True)
class RequestTransition:
    rule_id: str
    source: RequestStatus
    action: RequestAction
    target: RequestStatus
    by: frozenset[str] = STAFF


def _rows() -> tuple[RequestTransition, ...]:
    s, a = RequestStatus, RequestAction
    return (
        RequestTransition("REQ-APR-1", s.new, a.approve, s.approved),
        RequestTransition("REQ-FUL-1", s.approved, a.start, s.fulfilling),
        RequestTransition("REQ-FUL-2", s.fulfilling, a.fulfil, s.fulfilled),
        RequestTransition("REQ-CLS-1", s.fulfilled, a.close, s.closed, EVERYONE),
        # The requester may withdraw a request nobody has approved yet.
        RequestTransition("REQ-CAN-1", s.new, a.cancel, s.cancelled, EVERYONE),
        RequestTransition("REQ-CAN-2", s.approved, a.cancel, s.cancelled),
        RequestTransition("REQ-CAN-3", s.fulfilling, a.cancel, s.cancelled),
    )


TRANSITIONS = _rows()


class InvalidRequestTransition(Exception):
    def __init__(self, status: RequestStatus, action: str, allowed: list[str]) -> None:
        super().__init__(f"'{action}' is not allowed while the request is {status}")
        self.status = status
        self.allowed = allowed


def allowed_actions(status: RequestStatus, role: str) -> list[str]:
    return [r.action.value for r in TRANSITIONS if r.source == status and role in r.by]


def next_transition(status: RequestStatus, action: str, role: str) -> RequestTransition:
    for row in TRANSITIONS:
        if row.source == status and row.action.value == action and role in row.by:
            return row
    raise InvalidRequestTransition(status, action, allowed_actions(status, role))
