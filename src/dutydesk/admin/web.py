"""The admin screens: `/admin` (every section with its count), a list page (search, sortable
columns, empty state), a create form and an edit form per section, and the few screens that
are not a plain list (the priority matrix, the logging checklist, user and group actions).

Admins only: others get the 403 page. Routes parse the form, validate it with the API's own
input schema, call the section's service function inside `user.write` and answer with a
flash message; a refusal re-renders the form (422) with each error next to its field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, require_admin
from dutydesk.admin import catalog, closure, escalation, intake, notify, people, sla
from dutydesk.admin import routing as routing_admin
from dutydesk.admin.forms import (
    FORM,
    Action,
    Field,
    Form,
    FormInvalid,
    domain_errors,
    matching,
    parsed,
    sorted_rows,
    submitted,
    validate,
)
from dutydesk.admin.sections import Done, Section
from dutydesk.config import Settings
from dutydesk.incidents import rules
from dutydesk.incidents.priority import CHECKLIST_FIELDS
from dutydesk.kernel.errors import DomainError, NotFound
from dutydesk.notify import admin as notify_admin
from dutydesk.notify import queries as notify_queries
from dutydesk.notify.queries import TemplateView
from dutydesk.notify.templates import Rendered
from dutydesk.people import queries as people_queries
from dutydesk.people import service as people_service
from dutydesk.people import sessions
from dutydesk.web.context import Staff, WebUser
from dutydesk.web.render import redirect, render

T = TypeVar("T")
SECTIONS: dict[str, Section] = {
    s.key: s
    for s in (
        people.USERS,
        people.TOKENS,
        people.GROUPS,
        people.CUSTOMERS,
        catalog.SERVICES,
        catalog.CIS,
        catalog.CATEGORIES,
        sla.CALENDARS,
        sla.POLICIES,
        sla.OLAS,
        closure.CLOSURE_CHECKS,
        escalation.PATHS,
        escalation.LEVELS,
        routing_admin.RULES,
        notify.ENDPOINTS,
        intake.INTEGRATIONS,
        intake.WINDOWS,
    )
}


async def admin_user(user: Staff) -> WebUser:
    """Dependency: a signed-in admin (the 403 page for everyone else)."""
    require_admin(user.actor)
    return user


Admin = Annotated[WebUser, Depends(admin_user)]
router = APIRouter(prefix="/admin", include_in_schema=False)
Search = Annotated[str, Query(max_length=200)]
Sort = Annotated[int, Query(ge=0, le=20)]


def section_of(key: str) -> Section:
    found = SECTIONS.get(key)
    if found is None:
        raise NotFound("page not found")
    return found


async def form_data(request: Request) -> dict[str, str]:
    """The posted text fields; a name sent several times (a checkbox group) one per line."""
    form = await request.form()
    found: dict[str, str] = {}
    for name in form:
        values = [v for v in form.getlist(name) if isinstance(v, str)]
        found[name] = values[0] if len(values) == 1 else "\n".join(values)
    return found


async def attempt(
    user: WebUser,
    fn: Callable[[Session, Actor], T],
    known: list[str],
    aliases: Mapping[str, str] | None = None,
) -> T | dict[str, str]:
    """Run a write; a domain refusal comes back as form errors (nothing was written)."""
    try:
        return await user.write(fn)
    except DomainError as exc:
        if exc.status_code == 403:
            raise
        return domain_errors(exc, known, aliases or {})


# ---------------------------------------------------------------- index


@router.get("", response_class=HTMLResponse)
async def index(request: Request, user: Admin) -> HTMLResponse:
    def work(session: Session, actor: Actor) -> list[dict[str, Any]]:
        found = [
            {"title": s.title, "href": f"/admin/{s.key}", "count": len(s.rows(session))}
            for s in SECTIONS.values()
        ]
        matrix = rules.get_priority_matrix(session)
        checklist = rules.get_checklist(session)
        return [
            *found,
            {
                "title": "Priority matrix",
                "href": "/admin/priority-matrix",
                "count": matrix.levels**2,
            },
            {
                "title": "Assignment strategies",
                "href": "/admin/assignment-strategies",
                "count": len(routing_admin.strategy_rows(session)),
            },
            {
                "title": "Logging checklist",
                "href": "/admin/logging-checklist",
                "count": len(checklist),
            },
        ]

    return render(request, user, "admin/index.html", {"sections": await user.read(work)})


# ---------------------------------------------------------------- priority matrix


def _matrix_page(
    request: Request, user: WebUser, cells: list[list[str]], errors: list[str], status: int = 200
) -> HTMLResponse:
    context = {"cells": cells, "levels": len(cells), "errors": errors, "priorities": range(1, 6)}
    return render(request, user, "admin/priority_matrix.html", context, status=status)


@router.get("/priority-matrix", response_class=HTMLResponse)
async def priority_matrix(request: Request, user: Admin) -> HTMLResponse:
    def work(session: Session, actor: Actor) -> list[list[str]]:
        return [[str(p) for p in row] for row in rules.get_priority_matrix(session).cells]

    return _matrix_page(request, user, await user.read(work), [])


@router.post("/priority-matrix")
async def save_priority_matrix(request: Request, user: Admin) -> Response:
    form = await form_data(request)
    levels = int(form.get("levels", "0")) if form.get("levels", "").isdigit() else 0
    raw = [[form.get(f"cell-{i}-{u}", "") for u in range(levels)] for i in range(levels)]
    if not 1 <= levels <= 9 or any(not c.isdigit() or len(c) > 2 for row in raw for c in row):
        return _matrix_page(request, user, raw, ["Every cell needs a priority from 1 to 5."], 422)
    cells = [[int(c) for c in row] for row in raw]

    def work(session: Session, actor: Actor) -> None:
        rules.set_priority_matrix(session, actor, cells)

    try:
        await user.write(work)
    except DomainError as exc:
        problems = [str(e.get("msg", "")) for e in exc.errors] or [exc.detail]
        return _matrix_page(request, user, raw, problems, 422)
    return redirect(request, "/admin/priority-matrix", message="The priority matrix was saved.")


# ---------------------------------------------------------------- logging checklist


def _checklist_page(
    request: Request, user: WebUser, required: list[str], error: str = "", status: int = 200
) -> HTMLResponse:
    choices = [(name, name.replace("_", " ")) for name in CHECKLIST_FIELDS]
    context = {"choices": choices, "required": required, "error": error}
    return render(request, user, "admin/checklist.html", context, status=status)


@router.get("/logging-checklist", response_class=HTMLResponse)
async def logging_checklist(request: Request, user: Admin) -> HTMLResponse:
    def work(session: Session, actor: Actor) -> list[str]:
        return list(rules.get_checklist(session))

    return _checklist_page(request, user, await user.read(work))


@router.post("/logging-checklist")
async def save_logging_checklist(request: Request, user: Admin) -> Response:
    form = await request.form()
    required = [str(v) for v in form.getlist("required")]

    def work(session: Session, actor: Actor) -> None:
        rules.set_checklist(session, actor, required)

    try:
        await user.write(work)
    except DomainError as exc:
        errors = domain_errors(exc, [], {})
        return _checklist_page(request, user, required, errors[FORM], 422)
    return redirect(request, "/admin/logging-checklist", message="The logging checklist was saved.")


# ---------------------------------------------------------------- user and group actions


async def _on_user(
    request: Request, user: WebUser, user_id: int, fn: Callable[[Session, Actor, int], str]
) -> Response:
    message = await user.write(lambda session, actor: fn(session, actor, user_id))
    return redirect(request, f"/admin/users/{user_id}", message=message)


def _disable(session: Session, actor: Actor, user_id: int) -> str:
    account = people_service.disable_user(session, actor, people_queries.get_user(session, user_id))
    return f"User {account.username} was disabled; their tokens and sessions no longer work."


def _revoke_sessions(session: Session, actor: Actor, user_id: int) -> str:
    require_admin(actor)
    account = people_queries.get_user(session, user_id)
    ended = sessions.end_all(session, account.id)
    return f"{ended} browser session(s) of {account.username} were ended."


def _reset_link(settings: Settings) -> Callable[[Session, Actor, int], str]:
    def work(session: Session, actor: Actor, user_id: int) -> str:
        require_admin(actor)
        account = people_queries.get_user(session, user_id)
        if sessions.request_reset(session, settings, account.username):
            return f"A password reset link was mailed to {account.email}."
        return (
            f"No link was sent: {account.username} is disabled, has no e-mail address, "
            "or got one a few minutes ago."
        )

    return work


@router.post("/users/{user_id}/disable")
async def disable_user(request: Request, user: Admin, user_id: int) -> Response:
    return await _on_user(request, user, user_id, _disable)


@router.post("/users/{user_id}/revoke-sessions")
async def revoke_sessions(request: Request, user: Admin, user_id: int) -> Response:
    return await _on_user(request, user, user_id, _revoke_sessions)


@router.post("/users/{user_id}/reset-link")
async def reset_link(request: Request, user: Admin, user_id: int) -> Response:
    return await _on_user(request, user, user_id, _reset_link(user.settings))


@router.post("/tokens/{token_id}/revoke")
async def revoke_token(request: Request, user: Admin, token_id: int) -> Response:
    message = await user.write(lambda s, a: people.revoke_token(s, a, token_id))
    return redirect(request, "/admin/tokens", message=message)


@router.post("/groups/{group_id}/members")
async def add_member(request: Request, user: Admin, group_id: int) -> Response:
    chosen = (await form_data(request)).get("user_id", "")
    target = f"/admin/groups/{group_id}"
    if not chosen.isdigit():
        return redirect(request, target, message="Choose a person to add.", kind="error")
    result = await attempt(user, lambda s, a: people.add_member(s, a, group_id, int(chosen)), [])
    if isinstance(result, dict):
        return redirect(request, target, message=result[FORM], kind="error")
    return redirect(request, target, message=result)


@router.post("/groups/{group_id}/members/{user_id}/remove")
async def remove_member(request: Request, user: Admin, group_id: int, user_id: int) -> Response:
    message = await user.write(lambda s, a: people.remove_member(s, a, group_id, user_id))
    return redirect(request, f"/admin/groups/{group_id}", message=message)


@router.post("/integrations/{integration_id}/revoke")
async def revoke_integration(request: Request, user: Admin, integration_id: int) -> Response:
    message = await user.write(lambda s, a: intake.revoke_integration(s, a, integration_id))
    return redirect(request, "/admin/integrations", message=message)


@router.post("/integrations/{integration_id}/rotate", response_class=HTMLResponse)
async def rotate_integration(request: Request, user: Admin, integration_id: int) -> HTMLResponse:
    done = await user.write(lambda s, a: intake.rotate_integration(s, a, integration_id))
    return _secret_page(request, user, intake.INTEGRATIONS, done)


# ---------------------------------------------------------------- notification templates


@router.get("/templates", response_class=HTMLResponse)
async def templates_list(request: Request, user: Admin, q: Search = "") -> HTMLResponse:
    rows = await user.read(lambda session, actor: notify.template_rows(session))
    context = {"rows": matching(rows, q), "total": len(rows), "q": q}
    return render(request, user, "admin/templates.html", context, block="results")


def _template_page(
    request: Request,
    user: WebUser,
    view: TemplateView,
    *,
    subject: str,
    body: str,
    errors: dict[str, str] | None = None,
    preview: Rendered | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = {
        "view": view,
        "subject": subject,
        "body": body,
        "errors": errors or {},
        "preview": preview,
        "action": f"/admin/templates/{view.event}/{view.channel}",
    }
    return render(request, user, "admin/template_edit.html", context, status=status)


def _view(event: str, channel: str) -> Callable[[Session, Actor], TemplateView]:
    def work(session: Session, actor: Actor) -> TemplateView:
        try:
            return notify_queries.get_template_view(session, event, channel)
        except DomainError as exc:  # an unknown event or channel is a missing page
            raise NotFound("page not found") from exc

    return work


async def _template_input(
    request: Request, user: WebUser, event: str, channel: str
) -> tuple[TemplateView, str, str]:
    """The template being edited (404 for an unknown pair) and the submitted subject and body."""
    view = await user.read(_view(event, channel))
    form = await form_data(request)
    return view, form.get("subject", ""), form.get("body", "")


@router.get("/templates/{event}/{channel}", response_class=HTMLResponse)
async def template_page(request: Request, user: Admin, event: str, channel: str) -> HTMLResponse:
    view = await user.read(_view(event, channel))
    return _template_page(request, user, view, subject=view.subject, body=view.body)


@router.post("/templates/{event}/{channel}")
async def save_template(request: Request, user: Admin, event: str, channel: str) -> Response:
    view, subject, body = await _template_input(request, user, event, channel)
    settings = user.settings

    def work(session: Session, actor: Actor) -> None:
        notify_admin.put_template(
            session, settings, actor, event, channel, subject=subject, body=body
        )

    result = await attempt(user, work, ["subject", "body"])
    if isinstance(result, dict):
        return _template_page(
            request, user, view, subject=subject, body=body, errors=result, status=422
        )
    target = f"/admin/templates/{event}/{channel}"
    return redirect(request, target, message=f"The {event} {channel} template was saved.")


@router.post("/templates/{event}/{channel}/preview", response_class=HTMLResponse)
async def preview_template(request: Request, user: Admin, event: str, channel: str) -> HTMLResponse:
    """Render the submitted text with a sample incident; nothing is saved."""
    view, subject, body = await _template_input(request, user, event, channel)
    settings = user.settings

    def work(session: Session, actor: Actor) -> Rendered:
        return notify_admin.preview_template(
            session, settings, actor, event, channel, subject=subject, body=body
        )

    try:
        shown = await user.read(work)
    except DomainError as exc:
        if exc.status_code == 403:
            raise
        errors = domain_errors(exc, ["subject", "body"], {})
        return _template_page(
            request, user, view, subject=subject, body=body, errors=errors, status=422
        )
    return _template_page(request, user, view, subject=subject, body=body, preview=shown)


@router.post("/templates/{event}/{channel}/reset")
async def reset_template(request: Request, user: Admin, event: str, channel: str) -> Response:
    await user.read(_view(event, channel))

    def work(session: Session, actor: Actor) -> None:
        notify_admin.delete_template(session, actor, event, channel)

    await user.write(work)
    target = f"/admin/templates/{event}/{channel}"
    return redirect(request, target, message="The built-in template is used again.")


# ---------------------------------------------------------------- routing


@router.post("/routing-rules/{rule_id}/move/{direction}")
async def move_rule(request: Request, user: Admin, rule_id: int, direction: str) -> Response:
    if direction not in ("up", "down"):
        raise NotFound("page not found")
    up = direction == "up"
    result = await attempt(user, lambda s, a: routing_admin.move_rule(s, a, rule_id, up), [])
    if isinstance(result, dict):
        return redirect(request, "/admin/routing-rules", message=result[FORM], kind="error")
    return redirect(request, "/admin/routing-rules", message=result)


def _strategies_page(
    request: Request, user: WebUser, rows: list[tuple[int, str, str]], status: int = 200
) -> HTMLResponse:
    context = {"rows": rows, "choices": routing_admin.strategy_choices()}
    return render(request, user, "admin/strategies.html", context, status=status)


@router.get("/assignment-strategies", response_class=HTMLResponse)
async def strategies(request: Request, user: Admin) -> HTMLResponse:
    rows = await user.read(lambda session, actor: routing_admin.strategy_rows(session))
    return _strategies_page(request, user, rows)


@router.post("/assignment-strategies/{group_id}")
async def save_strategy(request: Request, user: Admin, group_id: int) -> Response:
    chosen = (await form_data(request)).get("strategy", "")
    target = "/admin/assignment-strategies"
    result = await attempt(
        user, lambda s, a: routing_admin.set_strategy(s, a, group_id, chosen), []
    )
    if isinstance(result, dict):
        return redirect(request, target, message=result[FORM], kind="error")
    return redirect(request, target, message=result)


# ---------------------------------------------------------------- generic sections


@router.get("/{key}", response_class=HTMLResponse)
async def section_list(
    request: Request, user: Admin, key: str, q: Search = "", sort: Sort = 0, desc: bool = False
) -> HTMLResponse:
    section = section_of(key)
    rows = await user.read(lambda session, actor: section.rows(session))
    total = len(rows)
    column = sort if sort < len(section.headers) else 0
    shown = sorted_rows(matching(rows, q), column, desc)
    context = {
        "section": section,
        "rows": shown,
        "total": total,
        "q": q,
        "sort": column,
        "desc": desc,
    }
    return render(request, user, "admin/list.html", context, block="results")


def _form_page(
    request: Request,
    user: WebUser,
    section: Section,
    form: Form,
    *,
    action: str,
    heading: str,
    status: int = 200,
    edit: Any = None,
) -> HTMLResponse:
    context = {"section": section, "form": form, "action": action, "heading": heading, "edit": edit}
    return render(request, user, "admin/form.html", context, status=status)


@router.get("/{key}/new", response_class=HTMLResponse)
async def new_page(request: Request, user: Admin, key: str) -> HTMLResponse:
    section = section_of(key)
    fields = await user.read(lambda session, actor: section.create_fields(session))
    form = Form(fields).filled({})
    heading = f"New {section.singular}"
    return _form_page(request, user, section, form, action=f"/admin/{key}/new", heading=heading)


@router.post("/{key}/new")
async def create(request: Request, user: Admin, key: str) -> Response:
    section = section_of(key)
    fields: list[Field] = await user.read(lambda session, actor: section.create_fields(session))
    raw = submitted(fields, await form_data(request))
    form = Form(fields).filled(raw)
    heading = f"New {section.singular}"
    try:
        body = validate(section.create_schema, parsed(fields, raw), section.aliases)
    except FormInvalid as exc:
        form.errors = exc.errors
        action = f"/admin/{key}/new"
        return _form_page(request, user, section, form, action=action, heading=heading, status=422)
    known = [f.name for f in fields]
    result = await attempt(user, lambda s, a: section.create(s, a, body), known, section.aliases)
    if isinstance(result, dict):
        form.errors = result
        action = f"/admin/{key}/new"
        return _form_page(request, user, section, form, action=action, heading=heading, status=422)
    if result.secret:
        return _secret_page(request, user, section, result)
    return redirect(request, f"/admin/{key}", message=result.message)


def _secret_page(request: Request, user: WebUser, section: Section, done: Done) -> HTMLResponse:
    context = {"section": section, "done": done}
    return render(request, user, "admin/secret.html", context, status=201)


@router.get("/{key}/{item_id}", response_class=HTMLResponse)
async def edit_page(request: Request, user: Admin, key: str, item_id: int) -> HTMLResponse:
    section = section_of(key)
    if section.edit is None:
        raise NotFound("page not found")
    editor = section.edit
    edit = await user.read(lambda session, actor: editor(session, item_id))
    if section.delete is not None:
        question = f"Delete this {section.singular}? This cannot be undone."
        remove = Action("Delete", f"/admin/{key}/{item_id}/delete", confirm=question, danger=True)
        edit = replace(edit, actions=(*edit.actions, remove))
    form = Form(edit.fields).filled(edit.values)
    action = f"/admin/{key}/{item_id}"
    return _form_page(request, user, section, form, action=action, heading=edit.heading, edit=edit)


@router.post("/{key}/{item_id}")
async def update(request: Request, user: Admin, key: str, item_id: int) -> Response:
    section = section_of(key)
    if section.edit is None or section.update is None or section.edit_schema is None:
        raise NotFound("page not found")
    editor, updater, schema = section.edit, section.update, section.edit_schema
    edit = await user.read(lambda session, actor: editor(session, item_id))
    raw = submitted(edit.fields, await form_data(request))
    form = Form(edit.fields).filled(raw)
    action = f"/admin/{key}/{item_id}"
    try:
        body = validate(schema, parsed(edit.fields, raw), section.aliases)
    except FormInvalid as exc:
        form.errors = exc.errors
        return _form_page(
            request, user, section, form, action=action, heading=edit.heading, status=422, edit=edit
        )
    known = [f.name for f in edit.fields]
    result = await attempt(user, lambda s, a: updater(s, a, item_id, body), known, section.aliases)
    if isinstance(result, dict):
        form.errors = result
        return _form_page(
            request, user, section, form, action=action, heading=edit.heading, status=422, edit=edit
        )
    return redirect(request, f"/admin/{key}", message=result)


@router.post("/{key}/{item_id}/delete")
async def delete(request: Request, user: Admin, key: str, item_id: int) -> Response:
    section = section_of(key)
    if section.delete is None:
        raise NotFound("page not found")
    remover = section.delete
    result = await attempt(user, lambda s, a: remover(s, a, item_id), [])
    if isinstance(result, dict):  # e.g. a calendar still in use: say why, nothing changed
        return redirect(request, f"/admin/{key}/{item_id}", message=result[FORM], kind="error")
    return redirect(request, f"/admin/{key}", message=result)
