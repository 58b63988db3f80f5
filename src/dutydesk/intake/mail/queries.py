"""Reads of inbound mail: the quarantine list, received records."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dutydesk.kernel.errors import InvalidInput, NotFound
from dutydesk.models import MailQuarantine

STATES = ("held", "retried", "discarded")


def list_quarantine(
    session: Session, *, state: str | None = "held", before_id: int | None = None, limit: int = 50
) -> Sequence[tuple[MailQuarantine, int]]:
    """Newest first, without the raw bytes' content (only their size)."""
    query = select(MailQuarantine, func.length(MailQuarantine.raw))
    if state:
        if state not in STATES:
            raise InvalidInput(
                f"state must be one of {', '.join(STATES)}",
                errors=[{"field": "state", "msg": "unknown state"}],
            )
        query = query.where(MailQuarantine.state == state)
    if before_id is not None:
        query = query.where(MailQuarantine.id < before_id)
    rows = session.execute(query.order_by(MailQuarantine.id.desc()).limit(limit)).all()
    return [(row[0], int(row[1] or 0)) for row in rows]


def get_quarantined(session: Session, quarantine_id: int) -> MailQuarantine:
    entry = session.get(MailQuarantine, quarantine_id)
    if entry is None:
        raise NotFound(f"no quarantined mail {quarantine_id}")
    return entry
