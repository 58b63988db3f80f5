"""The database as the schedule: find rows whose due-time column has passed, and claim one
with a compare-and-set, so that several workers never handle the same row twice.

Every worker job keeps its schedule in a nullable, indexed UTC column (an SLA clock's
``next_check_at``, an incident's ``auto_close_at`` or ``escalation_check_at``, an
integration's ``heartbeat_due_at``). ``claim`` sets the column to NULL only if it still
holds the value the worker saw; a row another worker claimed first, or that a request moved
meanwhile, changes no row. The job commits the claim together with its work.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import InstrumentedAttribute, Session


def due(
    session: Session, column: InstrumentedAttribute[Any], now: datetime, limit: int
) -> list[tuple[int, datetime]]:
    """(id, due time) of the rows due by `now`, oldest first: an index range scan."""
    model: Any = column.class_
    rows = session.execute(
        select(model.id, column)
        .where(column.is_not(None), column <= now)
        .order_by(column, model.id)
        .limit(limit)
    ).all()
    return [(ident, seen) for ident, seen in rows if seen is not None]


def claim(session: Session, column: InstrumentedAttribute[Any], ident: int, seen: datetime) -> bool:
    """Clear the row's due time if it is still `seen`; True when this caller got the row."""
    model: Any = column.class_
    result = session.execute(
        update(model)
        .where(model.id == ident, column == seen)
        .values({column.key: None})
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1
