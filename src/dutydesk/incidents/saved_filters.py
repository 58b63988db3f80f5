"""An agent's saved queue filters: the queue page's query string kept under a name."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, require_staff
from dutydesk.kernel import clock
from dutydesk.kernel.errors import InvalidInput, NotFound
from dutydesk.models.web import SavedFilter

QUERY_KEYS = frozenset(
    {
        "tab",
        "state",
        "priority",
        "group",
        "assignee",
        "customer",
        "service",
        "category",
        "text",
        "sort",
        "hours",
    }
)
MAX_FILTERS = 50  # per user
MAX_QUERY = 2000


def clean_query(raw: str) -> str:
    """The query string without the page cursor, empty values and unknown keys."""
    pairs = [(k, v) for k, v in parse_qsl(raw.lstrip("?")) if k in QUERY_KEYS and v.strip()]
    return urlencode(pairs)


def list_saved_filters(session: Session, actor: Actor) -> Sequence[SavedFilter]:
    return session.scalars(
        select(SavedFilter).where(SavedFilter.user_id == actor.user_id).order_by(SavedFilter.name)
    ).all()


def save_filter(session: Session, actor: Actor, name: str, query: str) -> SavedFilter:
    """Save (or replace, under the same name) the current queue filter of the actor."""
    require_staff(actor)
    name = name.strip()
    errors = []
    if not 1 <= len(name) <= 80:
        errors.append({"field": "name", "msg": "give a name of 1 to 80 characters"})
    query = clean_query(query)
    if len(query) > MAX_QUERY:
        errors.append(
            {"field": "query", "msg": f"the filter is longer than {MAX_QUERY} characters"}
        )
    if errors:
        raise InvalidInput("the filter cannot be saved", errors=errors)
    mine = list_saved_filters(session, actor)
    existing = next((f for f in mine if f.name == name), None)
    if existing is not None:
        existing.query = query
        return existing
    if len(mine) >= MAX_FILTERS:
        raise InvalidInput(
            f"you have {MAX_FILTERS} saved filters; delete one first",
            errors=[{"field": "name", "msg": "too many saved filters"}],
        )
    assert actor.user_id is not None
    row = SavedFilter(user_id=actor.user_id, name=name, query=query, created_at=clock.now())
    session.add(row)
    session.flush()
    return row


def delete_filter(session: Session, actor: Actor, filter_id: int) -> str:
    """Delete one of the actor's own saved filters (another user's is NotFound); its name."""
    require_staff(actor)
    row = session.get(SavedFilter, filter_id)
    if row is None or row.user_id != actor.user_id:
        raise NotFound("saved filter not found")
    session.delete(row)
    return row.name
