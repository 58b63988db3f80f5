"""API shapes of the mail quarantine."""

from __future__ import annotations

from datetime import datetime

from dutydesk.kernel.schemas import Output


class QuarantineRead(Output):
    id: int
    mailbox: str
    message_key: str
    sender: str
    subject: str
    reason: str
    state: str
    size: int
    created_at: datetime
    resolved_at: datetime | None


class QuarantineList(Output):
    items: list[QuarantineRead]
    next_cursor: str | None


class MailOutcomeRead(Output):
    outcome: str
    incident_number: str | None
    reason: str
