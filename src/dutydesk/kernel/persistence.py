"""Small persistence helpers shared by the services."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dutydesk.kernel.errors import Conflict


def flush_unique(session: Session, what: str) -> None:
    """Flush pending rows; a unique-constraint violation becomes a 409 naming `what`."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"{what} already exists") from exc
