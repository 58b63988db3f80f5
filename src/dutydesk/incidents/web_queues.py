"""The agent workspace's queue page (`/queues`): tabs with counts, filters, sortable columns,
keyset pages through ``incidents.queries.list_incidents`` (the API's list), saved filters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor
from dutydesk.incidents import queries, queues, saved_filters
from dutydesk.kernel import clock
from dutydesk.kernel.errors import DomainError, InvalidInput
from dutydesk.web.context import Staff
from dutydesk.web.render import redirect, render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
DEFAULT_HOURS = 4
COLUMNS = (  # (sort key or "", heading)
    ("number", "Number"),
    ("", "Short description"),
    ("state", "State"),
    ("priority", "Priority"),
    ("", "Customer"),
    ("", "Group"),
    ("", "Assignee"),
    ("opened_at", "Opened"),
    ("updated_at", "Updated"),
    ("resolve_by", "Resolve by"),
)
FILTER_KEYS = ("state", "priority", "group", "assignee", "customer", "service", "category", "text")
Small = Annotated[str, Query(max_length=200)]


@dataclass
class QueueQuery:
    tab: str
    hours: int
    sort: str
    cursor: str | None
    values: dict[str, str]  # the filter fields as typed (shown back in the form)

    def href(self, **changes: str | None) -> str:
        params: dict[str, str | None] = {"tab": self.tab, **self.values}
        if self.hours != DEFAULT_HOURS:
            params["hours"] = str(self.hours)
        if self.sort != queues.get_tab(self.tab).sort:
            params["sort"] = self.sort
        params.update(changes)
        return "/queues?" + urlencode({k: v for k, v in params.items() if v})


def _one_id(values: dict[str, str], name: str) -> list[int]:
    raw = values.get(name, "").strip()
    if not raw:
        return []
    if not raw.isdigit():
        raise InvalidInput(f"{name} must be chosen from the list", errors=[{"field": name}])
    return [int(raw)]


def incident_filter(values: dict[str, str]) -> queries.IncidentFilter:
    return queries.IncidentFilter(
        states=queries.parse_states(values.get("state")),
        priorities=_one_id(values, "priority"),
        group_ids=_one_id(values, "group"),
        assignee_ids=_one_id(values, "assignee"),
        customer_ids=_one_id(values, "customer"),
        service_ids=_one_id(values, "service"),
        category_ids=_one_id(values, "category"),
        text=values.get("text", "").strip() or None,
    )


def _sort_links(q: QueueQuery) -> dict[str, dict[str, str]]:
    first = q.sort.split(",")[0]
    current, descending = first.lstrip("-"), first.startswith("-")
    links = {}
    for key, _label in COLUMNS:
        if not key:
            continue
        if key == current:
            aria = "descending" if descending else "ascending"
            href = q.href(sort=key if descending else f"-{key}", cursor=None)
        else:
            aria, href = "none", q.href(sort=key, cursor=None)
        links[key] = {"href": href, "aria": aria}
    return links


def _row(incident: Any, names: queues.Names) -> dict[str, Any]:
    return {
        "number": incident.number,
        "short_description": incident.short_description,
        "state": incident.state,
        "priority": incident.priority,
        "customer": names.customers.get(incident.customer_id, ""),
        "group": names.groups.get(incident.assignment_group_id, ""),
        "assignee": names.users.get(incident.assignee_id, ""),
        "opened_at": incident.opened_at,
        "updated_at": incident.updated_at,
        "resolve_by": incident.resolve_by or incident.respond_by,
    }


def queue_view(session: Session, actor: Actor, q: QueueQuery) -> dict[str, Any]:
    """Everything the queue page shows: one page of the tab, tab counts, filter choices."""
    tab = queues.get_tab(q.tab)
    now = clock.now()
    flt = queues.tab_filter(tab, actor, incident_filter(q.values), now=now, hours=q.hours)
    page = queries.list_incidents(
        session, actor, flt, sort=q.sort, limit=PAGE_SIZE, cursor=q.cursor
    )
    names = queues.names_for(
        session,
        groups=(i.assignment_group_id for i in page.items),
        users=(i.assignee_id for i in page.items),
        customers=(i.customer_id for i in page.items),
    )
    return {
        "tab": tab,
        "rows": [_row(i, names) for i in page.items],
        "next_href": q.href(cursor=page.next_cursor) if page.next_cursor else None,
        "counts": queues.tab_counts(session, actor, now=now, hours=q.hours),
        "options": queues.filter_options(session, actor),
        "saved": [
            {"id": f.id, "name": f.name, "query": f.query}
            for f in saved_filters.list_saved_filters(session, actor)
        ],
    }


def _queue_query(
    request: Request, tab: str, hours: int, sort: str | None, cursor: str | None
) -> QueueQuery:
    values = {k: request.query_params.get(k, "")[:200] for k in FILTER_KEYS}
    chosen = queues.get_tab(tab)
    return QueueQuery(
        tab, hours, sort or chosen.sort, cursor, {k: v for k, v in values.items() if v}
    )


@router.get("/queues", response_class=HTMLResponse)
async def queue_page(
    request: Request,
    user: Staff,
    tab: Small = "mine",
    hours: Annotated[int, Query(ge=1, le=720)] = DEFAULT_HOURS,
    sort: Small | None = None,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> HTMLResponse:
    q = _queue_query(request, tab, hours, sort, cursor)
    context: dict[str, Any] = {
        "q": q,
        "tabs": queues.TABS,
        "columns": COLUMNS,
        "sort_links": _sort_links(q),
        "cap": queues.COUNT_CAP,
        "query_string": request.url.query,
        "problem": None,
    }
    try:
        context.update(await user.read(lambda s, a: queue_view(s, a, q)))
    except InvalidInput as exc:  # a hand-edited URL: say what is wrong, list nothing
        fallback = QueueQuery(q.tab, DEFAULT_HOURS, queues.get_tab(q.tab).sort, None, {})

        def empty(session: Session, actor: Actor) -> dict[str, Any]:
            view = queue_view(session, actor, fallback)
            return {**view, "rows": [], "next_href": None}

        context.update(await user.read(empty), problem=exc.detail, q=fallback)
        return render(request, user, "incidents/queues.html", context, status=422, block="queue")
    return render(request, user, "incidents/queues.html", context, block="queue")


@router.post("/queues/filters")
async def save_filter(
    request: Request,
    user: Staff,
    name: Annotated[str, Form(max_length=200)] = "",
    query: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    back = "/queues?" + saved_filters.clean_query(query)
    try:
        saved = await user.write(lambda s, a: saved_filters.save_filter(s, a, name, query).name)
    except DomainError as exc:
        detail = "; ".join(str(e.get("msg", "")) for e in exc.errors) or exc.detail
        return redirect(request, back, message=f"Not saved: {detail}.", kind="error")
    return redirect(request, back, message=f"Filter “{saved}” saved.")


@router.post("/queues/filters/{filter_id}/delete")
async def delete_filter(request: Request, user: Staff, filter_id: int) -> Response:
    name = await user.write(lambda s, a: saved_filters.delete_filter(s, a, filter_id))
    return redirect(request, "/queues", message=f"Filter “{name}” deleted.")
