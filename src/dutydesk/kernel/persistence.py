"""Small persistence helpers shared by the services."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransaction

from dutydesk.kernel.errors import Conflict

_TRANSACTION_KEYS: set[str] = set()


def transaction_scoped(key: str) -> str:
    """Declare a ``session.info`` key as a cache of what this transaction wrote: it is
    dropped on every rollback (a savepoint's too: what it describes may be gone) and when
    the outermost transaction ends, so it never outlives the state it describes."""
    _TRANSACTION_KEYS.add(key)
    return key


def _drop_on_rollback(session: Session, _transaction: SessionTransaction) -> None:
    for key in _TRANSACTION_KEYS:
        session.info.pop(key, None)


def _drop_at_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        _drop_on_rollback(session, transaction)


event.listen(Session, "after_soft_rollback", _drop_on_rollback)
event.listen(Session, "after_transaction_end", _drop_at_end)


def flush_unique(session: Session, what: str) -> None:
    """Flush pending rows; a unique-constraint violation becomes a 409 naming `what`."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"{what} already exists") from exc
