"""The kanban board (``/board``): open incidents in columns by state, filtered by group and
priority; dropping a card on a column (or choosing it in the card's "Move to" select) runs
the lifecycle action that leads there (``incidents.board`` reads it from the transition
table) through ``actions.perform_action``, with the card's version as If-Match."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor
from dutydesk.incidents import actions, checklist, queries, service
from dutydesk.incidents.board import (
    COLUMN_BY_KEY,
    COLUMNS,
    NEEDS,
    Column,
    Move,
    moves_into,
    needs_input,
    refusal,
)
from dutydesk.incidents.changes import TransitionRefused
from dutydesk.incidents.lifecycle import Action, Status
from dutydesk.incidents.schemas import ActionRequest
from dutydesk.kernel import clock
from dutydesk.kernel.errors import Conflict, DomainError, InvalidInput, PreconditionFailed
from dutydesk.models import Incident, SupportGroup, User
from dutydesk.web.context import Staff, WebUser, safe_next
from dutydesk.web.render import redirect, render

router = APIRouter(include_in_schema=False)
PER_COLUMN = 25
Short = Annotated[str, Form(max_length=500)]


@dataclass
class Card:
    number: str
    version: int
    short_description: str
    priority: int
    state: str
    assignee: str
    sla_left: str
    sla_late: bool
    moves: list[tuple[str, str]]  # (column key, label) the card may be moved to


@dataclass
class BoardColumn:
    column: Column
    cards: list[Card] = field(default_factory=list)
    more: bool = False
    more_url: str = ""


def _left(due: datetime | None, now: datetime) -> tuple[str, bool]:
    if due is None:
        return "", False
    seconds = int((due - now).total_seconds())
    late = seconds < 0
    minutes = abs(seconds) // 60
    text = f"{minutes // 60}h {minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"
    return (f"{text} late" if late else f"{text} left"), late


def _parse_filters(group: str, priority: str, actor: Actor) -> tuple[list[int], list[int]]:
    """`group`: a group id, 'all', or empty (the user's groups); `priority`: 1-5 or empty."""
    if group == "all":
        group_ids: list[int] = []
    elif group == "":
        group_ids = sorted(actor.group_ids)
    elif group.isdigit():
        group_ids = [int(group)]
    else:
        raise InvalidInput("unknown group", errors=[{"field": "group", "msg": "a group id"}])
    if priority == "":
        return group_ids, []
    if priority in {"1", "2", "3", "4", "5"}:
        return group_ids, [int(priority)]
    raise InvalidInput("unknown priority", errors=[{"field": "priority", "msg": "1 to 5"}])


def _board(
    session: Session, actor: Actor, group_ids: list[int], priorities: list[int]
) -> dict[str, Any]:
    now = clock.now()
    columns: list[BoardColumn] = []
    for column in COLUMNS:
        flt = queries.IncidentFilter(
            states=sorted(column.states), group_ids=group_ids, priorities=priorities
        )
        page = queries.list_incidents(
            session, actor, flt, sort="priority,opened_at", limit=PER_COLUMN
        )
        shown = BoardColumn(column, more=page.next_cursor is not None)
        query = {"state": ",".join(sorted(column.states))}
        if len(group_ids) == 1:
            query["group"] = str(group_ids[0])
        shown.more_url = "/queues?" + urlencode(query)
        for inc in page.items:
            left, late = _left(inc.resolve_by or inc.respond_by, now)
            state = Status(inc.state)
            shown.cards.append(
                Card(
                    number=inc.number,
                    version=inc.version,
                    short_description=inc.short_description,
                    priority=inc.priority,
                    state=inc.state,
                    assignee=str(inc.assignee_id or ""),
                    sla_left=left,
                    sla_late=late,
                    moves=[
                        (c.key, c.label)
                        for c in COLUMNS
                        if state not in c.states and moves_into(state, c, actor.role)
                    ],
                )
            )
        columns.append(shown)
    ids = {int(c.assignee) for col in columns for c in col.cards if c.assignee}
    names: dict[int, str] = {}
    if ids:
        rows = session.execute(
            select(User.id, User.full_name, User.username).where(User.id.in_(sorted(ids)))
        )
        names = {uid: full or login for uid, full, login in rows}
    for col in columns:
        for card in col.cards:
            card.assignee = names.get(int(card.assignee), "") if card.assignee else ""
    return {"columns": columns, "groups": _groups(session)}


def _groups(session: Session) -> list[tuple[int, str]]:
    rows = session.execute(
        select(SupportGroup.id, SupportGroup.name)
        .where(SupportGroup.is_active.is_(True))
        .order_by(SupportGroup.name)
    )
    return [(gid, name) for gid, name in rows]


@router.get("/board", response_class=HTMLResponse)
async def board_page(
    request: Request,
    user: Staff,
    group: Annotated[str, Query(max_length=20)] = "",
    priority: Annotated[str, Query(max_length=2)] = "",
) -> HTMLResponse:
    group_ids, priorities = _parse_filters(group, priority, user.actor)

    def work(session: Session, actor: Actor) -> dict[str, Any]:
        return _board(session, actor, group_ids, priorities)

    context = await user.read(work)
    context.update(
        group=group,
        priority=priority,
        here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    )
    return render(request, user, "board/board.html", context, block="board")


@dataclass
class MoveForm:
    number: str
    version: int
    to: str
    choice: str
    reason: str
    resolution_code: str
    resolution_notes: str
    is_workaround: str
    ticks: list[str]
    group_id: int | None
    back: str


@dataclass
class Outcome:
    moved: str = ""  # the number of the incident moved (a reopen may open a follow-up)
    ask: list[Move] = field(default_factory=list)  # the move needs input: show the form
    short_description: str = ""
    state: str = ""
    checks: list[checklist.Outcome] = field(default_factory=list)  # when resolving
    groups: list[tuple[int, str]] = field(default_factory=list)  # when assigning or escalating


def _request_of(form: MoveForm, move: Move) -> ActionRequest:
    workaround = {"yes": True, "no": False}.get(form.is_workaround)
    return ActionRequest(
        target=move.target if move.action in (Action.pend, Action.reopen) else None,
        reason=form.reason.strip() or None,
        resolution_code=form.resolution_code.strip() or None,
        resolution_notes=form.resolution_notes.strip() or None,
        is_workaround=workaround,
        checklist=form.ticks or None,
        group_id=form.group_id if move.action in (Action.assign, Action.escalate) else None,
    )


def _perform(session: Session, actor: Actor, form: MoveForm, user: WebUser) -> Outcome:
    column = COLUMN_BY_KEY.get(form.to)
    if column is None:
        raise InvalidInput("unknown column", errors=[{"field": "to", "msg": "a board column"}])
    incident = queries.get_incident_for(session, actor, form.number, for_update=True)
    actions.ensure_actor_may_act(actor, incident)
    service.check_version(incident, f'"{form.version}"', user.settings)
    state = Status(incident.state)
    moves = moves_into(state, column, actor.role)
    if not moves:
        raise TransitionRefused(refusal(state, column))
    if form.choice:
        chosen = [m for m in moves if f"{m.action.value}:{m.target.value}" == form.choice]
        if not chosen:
            raise InvalidInput("choose one of the moves", errors=[{"field": "choice", "msg": "?"}])
        move = chosen[0]
    elif needs_input(moves[0], len(moves)):
        return _asking(session, incident, moves)
    else:
        move = moves[0]
    result = actions.perform_action(
        session,
        actor,
        incident,
        move.action.value,
        _request_of(form, move),
        settings=user.settings,
    )
    session.flush()
    return Outcome(moved=result.number, state=result.state)


def _asking(session: Session, incident: Incident, moves: list[Move]) -> Outcome:
    checks = []
    if any(m.action == Action.resolve for m in moves):
        checks = checklist.status_of(session, incident)
    return Outcome(
        ask=moves,
        short_description=incident.short_description,
        state=incident.state,
        checks=checks,
        groups=_groups(session)
        if any(m.action in (Action.assign, Action.escalate) for m in moves)
        else [],
    )


def _dialog(
    request: Request, user: WebUser, form: MoveForm, outcome: Outcome, error: DomainError | None
) -> HTMLResponse:
    errors = {str(e.get("field")): str(e.get("msg")) for e in (error.errors if error else [])}
    context = {
        "form": form,
        "column": COLUMN_BY_KEY[form.to],
        "moves": [(f"{m.action.value}:{m.target.value}", _move_label(m)) for m in outcome.ask],
        "fields": sorted({f for m in outcome.ask for f in _needs(m)}),
        "short_description": outcome.short_description,
        "checks": outcome.checks,
        "groups": outcome.groups,
        "problem": error.detail if error else "",
        "problems": [
            f"{e.get('field')}: {e.get('msg')}"
            for e in (error.errors if error else [])
            if e.get("field") not in {"choice", "reason", "group_id", *NEEDS[Action.resolve]}
        ],
        "errors": errors,
    }
    return render(request, user, "board/move.html", context, status=422 if error else 200)


def _needs(move: Move) -> tuple[str, ...]:
    return tuple(f for f in NEEDS.get(move.action, ()) if f != "target")


def _move_label(move: Move) -> str:
    return f"{move.action.value.capitalize()} → {move.target.value.replace('_', ' ')}"


@router.post("/board/move", response_class=HTMLResponse)
async def move_card(
    request: Request,
    user: Staff,
    number: Annotated[str, Form(max_length=20)],
    version: Annotated[int, Form(ge=0)],
    to: Annotated[str, Form(max_length=20)],
    choice: Annotated[str, Form(max_length=40)] = "",
    reason: Short = "",
    resolution_code: Annotated[str, Form(max_length=40)] = "",
    resolution_notes: Annotated[str, Form(max_length=4000)] = "",
    is_workaround: Annotated[str, Form(max_length=3)] = "",
    back: Annotated[str, Form(max_length=500)] = "/board",
    ticks: Annotated[list[str] | None, Form(alias="checklist")] = None,
    group_id: Annotated[int | None, Form(alias="group", ge=1)] = None,
) -> Response:
    form = MoveForm(
        number,
        version,
        to,
        choice,
        reason,
        resolution_code,
        resolution_notes,
        is_workaround,
        [t[:40] for t in ticks or []][:50],
        group_id,
        safe_next(back),
    )
    try:
        outcome = await user.write(lambda session, actor: _perform(session, actor, form, user))
    except PreconditionFailed:
        return redirect(
            request,
            form.back,
            kind="error",
            message=f"{number} changed meanwhile: look at it again and retry.",
        )
    except Conflict as exc:
        return redirect(request, form.back, kind="error", message=f"{number}: {exc.detail}")
    except InvalidInput as exc:
        if form.to in COLUMN_BY_KEY and (form.choice or exc.errors):
            retry = await _ask_again(user, form)
            if retry.ask:
                return _dialog(request, user, form, retry, exc)
        return redirect(request, form.back, kind="error", message=f"{number}: {exc.detail}")
    if outcome.ask:
        return _dialog(request, user, form, outcome, None)
    state = outcome.state.replace("_", " ")
    message = f"{outcome.moved} is now {state}."
    if outcome.moved != number:
        message = f"{number} could not reopen; follow-up {outcome.moved} is {state}."
    return redirect(request, form.back, message=message)


async def _ask_again(user: WebUser, form: MoveForm) -> Outcome:
    def work(session: Session, actor: Actor) -> Outcome:
        incident = queries.get_incident_for(session, actor, form.number)
        moves = moves_into(Status(incident.state), COLUMN_BY_KEY[form.to], actor.role)
        return _asking(session, incident, moves)

    outcome: Outcome = await user.read(work)
    return outcome
