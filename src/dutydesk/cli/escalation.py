"""`dutydesk escalation`: escalation paths, hierarchic levels and on-demand escalation, through
the escalation services (acting as the system)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from dutydesk.catalog import queries as catalog
from dutydesk.cli.common import (
    BAD_INPUT,
    JsonOption,
    actor,
    database,
    fail,
    handled,
    human_seconds,
    is_any,
    parse_duration,
    parse_int,
    print_json,
    print_record,
    print_table,
    say,
    settings,
    validated,
)
from dutydesk.escalation import admin, queries, service
from dutydesk.escalation.schemas import (
    EscalationCreate,
    EscalationRead,
    LevelCreate,
    LevelPatch,
    LevelRead,
    PathCreate,
    PathPatch,
    PathRead,
    StepRead,
)
from dutydesk.incidents import queries as incidents
from dutydesk.models import EscalationLevel, EscalationPath, IncidentEscalation
from dutydesk.people import queries as people

app = typer.Typer(
    help="Escalation paths (functional), hierarchic levels, and escalating on demand.",
    no_args_is_help=True,
)
path_app = typer.Typer(
    help="Escalation paths: the ordered support groups an incident escalates through.",
    no_args_is_help=True,
)
level_app = typer.Typer(
    help="Hierarchic levels: whom to tell when a clock runs late.", no_args_is_help=True
)
app.add_typer(path_app, name="path")
app.add_typer(level_app, name="level")

STEP_HELP = (
    "A step, in order (repeat: the first --step is level 1): GROUP or GROUP:auto, GROUP an id "
    "or a name; ':auto' escalates to the next step by itself when this group's OLA breaches. "
    "On update the steps given replace every step."
)
Steps = Annotated[list[str] | None, typer.Option("--step", help=STEP_HELP)]
CategoryRef = Annotated[
    str | None, typer.Option("--category", help="Category id or name, or 'any'")
]
ServiceRef = Annotated[str | None, typer.Option("--service", help="Service id or name, or 'any'")]
Active = Annotated[bool | None, typer.Option("--active/--inactive", help="Switch it on or off")]
Priority = Annotated[str | None, typer.Option("--priority", help="Priority 1-9, or 'any'")]
GroupRef = Annotated[str | None, typer.Option("--group", help="Support group id or name, or 'any'")]
Percent = Annotated[
    int | None,
    typer.Option(
        "--percent", help="Trigger: fire at this percent (1-1000) of the --clock's target"
    ),
]
ClockOption = Annotated[
    str | None,
    typer.Option("--clock", help="For --percent: response or resolution (default resolution)"),
]
Delay = Annotated[
    str | None,
    typer.Option(
        "--delay",
        help="Trigger: fire after this much business time on the resolution clock "
        "(3600, 45m, 8h, 2d)",
    ),
]
NotifyManager = Annotated[
    bool | None,
    typer.Option(
        "--notify-group-manager/--no-notify-group-manager",
        help="Tell the assignment group's manager (default yes)",
    ),
]
NotifyManagers = Annotated[
    bool | None,
    typer.Option(
        "--notify-incident-managers/--no-notify-incident-managers",
        help="Tell every incident manager (default no)",
    ),
]
NotifyUsers = Annotated[
    list[str] | None,
    typer.Option("--notify-user", help="Also tell this staff user, id or user name (repeat)"),
]
NoNotifyUsers = Annotated[
    bool, typer.Option("--no-notify-users", help="Tell no named users (clears --notify-user)")
]


# ----------------------------------------------------------------------------- lookups


def _group_id(session: Session, ref: str) -> int:
    if ref.strip().isdigit():
        return people.get_group(session, int(ref)).id
    return people.get_group_by_name(session, ref.strip()).id


def _category_id(session: Session, ref: str) -> int | None:
    if is_any(ref):
        return None
    if ref.strip().isdigit():
        return catalog.get_category(session, int(ref)).id
    found = [c.id for c in catalog.list_categories(session) if c.name == ref.strip()]
    if not found:
        raise fail(f"category {ref!r} not found")
    if len(found) > 1:
        raise fail(f"--category: {len(found)} categories are named {ref!r}; give its id", BAD_INPUT)
    return found[0]


def _service_id(session: Session, ref: str) -> int | None:
    if is_any(ref):
        return None
    if ref.strip().isdigit():
        return catalog.get_service(session, int(ref)).id
    return catalog.get_service_by_name(session, ref.strip()).id


def _user_id(session: Session, ref: str) -> int:
    if ref.strip().isdigit():
        return people.get_user(session, int(ref)).id
    return people.get_user_by_username(session, ref.strip()).id


def _step_refs(steps: list[str]) -> list[tuple[str, bool]]:
    """`GROUP` or `GROUP:auto`, checked before the database is opened."""
    parsed = []
    for text in steps:
        group, sep, flag = text.rpartition(":")
        if not sep or flag.strip().lower() != "auto":
            group, flag = text, ""
        if not group.strip():
            raise fail(f"--step {text!r}: give GROUP or GROUP:auto", BAD_INPUT)
        parsed.append((group, bool(flag)))
    return parsed


def _steps(session: Session, refs: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    return [
        {"level": level, "group_id": _group_id(session, group), "auto": auto}
        for level, (group, auto) in enumerate(refs, start=1)
    ]


# ----------------------------------------------------------------------------- paths


def _path(session: Session, row: EscalationPath) -> dict[str, Any]:
    """The API's shape (PathRead)."""
    steps = queries.steps_of(session, [row.id])[row.id]
    return PathRead(
        id=row.id,
        name=row.name,
        category_id=row.category_id,
        service_id=row.service_id,
        active=row.active,
        steps=[StepRead.model_validate(s) for s in steps],
        updated_at=row.updated_at,
    ).model_dump(mode="json")


def _group_names(session: Session) -> dict[int, str]:
    return {g.id: g.name for g in people.list_groups(session)}


PATH_COLUMNS = ("id", "name", "category", "service", "steps", "active")


def _path_row(p: dict[str, Any], groups: dict[int, str]) -> tuple[object, ...]:
    steps = " → ".join(
        f"{s['level']} {groups.get(s['group_id'], s['group_id'])}"
        + (" (auto)" if s["auto"] else "")
        for s in p["steps"]
    )
    return (
        p["id"],
        p["name"],
        p["category_id"] or "any",
        p["service_id"] or "any",
        steps,
        p["active"],
    )


def _show_path(data: dict[str, Any], groups: dict[int, str], as_json: bool) -> None:
    if as_json:
        print_json(data)
    else:
        print_record(dict(zip(PATH_COLUMNS, _path_row(data, groups), strict=True)))


@path_app.command("list")
def path_list(as_json: JsonOption = False) -> None:
    """List escalation paths (the most specific active match applies to an incident)."""
    with handled(), database().unit_of_work(write=False) as session:
        rows = [_path(session, p) for p in queries.list_paths(session)]
        groups = _group_names(session)
    if as_json:
        print_json(rows)
    else:
        print_table(PATH_COLUMNS, [_path_row(p, groups) for p in rows])


@path_app.command("show")
def path_show(
    path_id: Annotated[int, typer.Argument(help="Path id")], as_json: JsonOption = False
) -> None:
    """Show one escalation path with its steps."""
    with handled(), database().unit_of_work(write=False) as session:
        data = _path(session, queries.get_path(session, path_id))
        groups = _group_names(session)
    _show_path(data, groups, as_json)


def _path_references(
    session: Session,
    values: dict[str, Any],
    *,
    category: str | None,
    service_ref: str | None,
    steps: list[tuple[str, bool]] | None,
) -> dict[str, Any]:
    if category is not None:
        values["category_id"] = _category_id(session, category)
    if service_ref is not None:
        values["service_id"] = _service_id(session, service_ref)
    if steps is not None:
        values["steps"] = _steps(session, steps)
    return values


@path_app.command("add")
def path_add(
    name: Annotated[str, typer.Argument(help="A unique name")],
    step: Steps = None,
    category: CategoryRef = None,
    service_ref: ServiceRef = None,
    active: Active = None,
    as_json: JsonOption = False,
) -> None:
    """Add an escalation path for category × service (left out: matches anything).

    Example: dutydesk escalation path add "Mail" --service E-mail
    --step "Service Desk:auto" --step "Application Support" --step Vendor
    """
    if not step:
        raise fail("give the path's steps: --step GROUP[:auto], once per step", BAD_INPUT)
    refs = _step_refs(step)
    values: dict[str, Any] = {"name": name}
    if active is not None:
        values["active"] = active
    with handled(), database().unit_of_work() as session:
        values = _path_references(
            session, values, category=category, service_ref=service_ref, steps=refs
        )
        body = validated(PathCreate, **values)
        data = _path(session, admin.create_path(session, actor(), body.model_dump()))
        groups = _group_names(session)
    _show_path(data, groups, as_json)


@path_app.command("update")
def path_update(
    path_id: Annotated[int, typer.Argument(help="Path id")],
    name: Annotated[str | None, typer.Option(help="A new name")] = None,
    step: Steps = None,
    category: CategoryRef = None,
    service_ref: ServiceRef = None,
    active: Active = None,
    as_json: JsonOption = False,
) -> None:
    """Change an escalation path; it applies from each incident's next escalation on."""
    refs = _step_refs(step) if step else None
    values: dict[str, Any] = {}
    for key, value in (("name", name), ("active", active)):
        if value is not None:
            values[key] = value
    if not values and refs is None and category is None and service_ref is None:
        raise fail("nothing to change: give at least one option", BAD_INPUT)
    with handled(), database().unit_of_work() as session:
        values = _path_references(
            session, values, category=category, service_ref=service_ref, steps=refs
        )
        body = validated(PathPatch, **values)
        row = queries.get_path(session, path_id)
        changes = body.model_dump(exclude_unset=True)
        data = _path(session, admin.update_path(session, actor(), row, changes))
        groups = _group_names(session)
    _show_path(data, groups, as_json)


@path_app.command("delete")
def path_delete(path_id: Annotated[int, typer.Argument(help="Path id")]) -> None:
    """Delete an escalation path; incidents keep their escalation log."""
    with handled(), database().unit_of_work() as session:
        row = queries.get_path(session, path_id)
        name = row.name
        admin.delete_path(session, actor(), row)
    say(f"escalation path {path_id} {name!r} deleted")


# ----------------------------------------------------------------------------- levels


def _level(row: EscalationLevel) -> dict[str, Any]:
    return LevelRead.model_validate(row).model_dump(mode="json")


LEVEL_COLUMNS = ("id", "name", "priority", "group", "trigger", "notifies", "active")


def _trigger_text(lv: dict[str, Any]) -> str:
    if lv["trigger"] == "percent":
        return f"{lv['percent']}% of {lv['clock'] or 'resolution'}"
    return f"after {human_seconds(lv['delay_seconds'])}"


def _notifies_text(lv: dict[str, Any]) -> list[str]:
    who = []
    if lv["notify_group_manager"]:
        who.append("group manager")
    if lv["notify_incident_managers"]:
        who.append("incident managers")
    who.extend(f"user {uid}" for uid in lv["notify_user_ids"])
    return who


def _level_row(lv: dict[str, Any], groups: dict[int, str]) -> tuple[object, ...]:
    group = lv["group_id"]
    return (
        lv["id"],
        lv["name"],
        lv["priority"] or "any",
        groups.get(group, group) if group is not None else "any",
        _trigger_text(lv),
        _notifies_text(lv),
        lv["active"],
    )


def _show_level(data: dict[str, Any], groups: dict[int, str], as_json: bool) -> None:
    if as_json:
        print_json(data)
    else:
        print_record(dict(zip(LEVEL_COLUMNS, _level_row(data, groups), strict=True)))


def _level_values(
    *,
    priority: str | None,
    percent: int | None,
    clock_name: str | None,
    delay: str | None,
    notify_group_manager: bool | None,
    notify_incident_managers: bool | None,
    notify_users: list[str] | None,
    no_notify_users: bool,
    active: bool | None,
) -> dict[str, Any]:
    """The values of the options given; the trigger follows from --percent or --delay."""
    if percent is not None and delay is not None:
        raise fail("give --percent or --delay, not both", BAD_INPUT)
    if notify_users and no_notify_users:
        raise fail("give --notify-user or --no-notify-users, not both", BAD_INPUT)
    values: dict[str, Any] = {}
    if priority is not None:
        values["priority"] = None if is_any(priority) else parse_int(priority, "--priority")
    if percent is not None:
        values.update(trigger="percent", percent=percent)
    if delay is not None:
        values.update(trigger="delay", delay_seconds=parse_duration(delay, "--delay"))
    if clock_name is not None:
        values["clock"] = clock_name
    for key, value in (
        ("notify_group_manager", notify_group_manager),
        ("notify_incident_managers", notify_incident_managers),
        ("active", active),
    ):
        if value is not None:
            values[key] = value
    if no_notify_users:
        values["notify_user_ids"] = []
    return values


def _level_references(
    session: Session,
    values: dict[str, Any],
    *,
    group: str | None,
    notify_users: list[str] | None,
) -> dict[str, Any]:
    if group is not None:
        values["group_id"] = None if is_any(group) else _group_id(session, group)
    if notify_users:
        values["notify_user_ids"] = [_user_id(session, u) for u in notify_users]
    return values


@level_app.command("list")
def level_list(as_json: JsonOption = False) -> None:
    """List hierarchic escalation levels."""
    with handled(), database().unit_of_work(write=False) as session:
        rows = [_level(lv) for lv in queries.list_levels(session)]
        groups = _group_names(session)
    if as_json:
        print_json(rows)
    else:
        print_table(LEVEL_COLUMNS, [_level_row(lv, groups) for lv in rows])


@level_app.command("show")
def level_show(
    level_id: Annotated[int, typer.Argument(help="Level id")], as_json: JsonOption = False
) -> None:
    """Show one hierarchic escalation level."""
    with handled(), database().unit_of_work(write=False) as session:
        data = _level(queries.get_level(session, level_id))
        groups = _group_names(session)
    _show_level(data, groups, as_json)


@level_app.command("add")
def level_add(
    name: Annotated[str, typer.Argument(help="A unique name")],
    priority: Priority = None,
    group: GroupRef = None,
    percent: Percent = None,
    clock_name: ClockOption = None,
    delay: Delay = None,
    notify_group_manager: NotifyManager = None,
    notify_incident_managers: NotifyManagers = None,
    notify_user: NotifyUsers = None,
    active: Active = None,
    as_json: JsonOption = False,
) -> None:
    """Add a hierarchic level: give --percent (with --clock) or --delay as its trigger.

    Example: dutydesk escalation level add "P1 at 80%" --priority 1 --percent 80
    --notify-incident-managers
    """
    values = _level_values(
        priority=priority,
        percent=percent,
        clock_name=clock_name,
        delay=delay,
        notify_group_manager=notify_group_manager,
        notify_incident_managers=notify_incident_managers,
        notify_users=notify_user,
        no_notify_users=False,
        active=active,
    )
    if "trigger" not in values:
        raise fail("give the level's trigger: --percent N [--clock] or --delay DUR", BAD_INPUT)
    with handled(), database().unit_of_work() as session:
        values = _level_references(session, values, group=group, notify_users=notify_user)
        body = validated(LevelCreate, name=name, **values)
        data = _level(admin.create_level(session, actor(), body.model_dump()))
        groups = _group_names(session)
    _show_level(data, groups, as_json)


@level_app.command("update")
def level_update(
    level_id: Annotated[int, typer.Argument(help="Level id")],
    name: Annotated[str | None, typer.Option(help="A new name")] = None,
    priority: Priority = None,
    group: GroupRef = None,
    percent: Percent = None,
    clock_name: ClockOption = None,
    delay: Delay = None,
    notify_group_manager: NotifyManager = None,
    notify_incident_managers: NotifyManagers = None,
    notify_user: NotifyUsers = None,
    no_notify_users: NoNotifyUsers = False,
    active: Active = None,
    as_json: JsonOption = False,
) -> None:
    """Change a level; open incidents are rechecked against it at once. --percent or --delay
    switches the trigger (the other trigger's settings are dropped); --notify-user replaces
    the named users."""
    values = _level_values(
        priority=priority,
        percent=percent,
        clock_name=clock_name,
        delay=delay,
        notify_group_manager=notify_group_manager,
        notify_incident_managers=notify_incident_managers,
        notify_users=notify_user,
        no_notify_users=no_notify_users,
        active=active,
    )
    if name is not None:
        values["name"] = name
    if not values and group is None and not notify_user:
        raise fail("nothing to change: give at least one option", BAD_INPUT)
    with handled(), database().unit_of_work() as session:
        values = _level_references(session, values, group=group, notify_users=notify_user)
        body = validated(LevelPatch, **values)
        row = queries.get_level(session, level_id)
        changes = body.model_dump(exclude_unset=True)
        data = _level(admin.update_level(session, actor(), row, changes))
        groups = _group_names(session)
    _show_level(data, groups, as_json)


@level_app.command("delete")
def level_delete(level_id: Annotated[int, typer.Argument(help="Level id")]) -> None:
    """Delete a level; incidents keep their escalation log."""
    with handled(), database().unit_of_work() as session:
        row = queries.get_level(session, level_id)
        name = row.name
        admin.delete_level(session, actor(), row)
    say(f"escalation level {level_id} {name!r} deleted")


# ----------------------------------------------------------------------------- on demand


def _escalation(number: str, row: IncidentEscalation) -> dict[str, Any]:
    return {"incident": number, **EscalationRead.model_validate(row).model_dump(mode="json")}


@app.command("raise")
def raise_cmd(
    numbers: Annotated[list[str], typer.Argument(help="Incident numbers (INC…)", metavar="INC…")],
    reason: Annotated[str, typer.Option("--reason", help="Why management is told")],
    level: Annotated[
        int | None,
        typer.Option(
            "--level",
            help="Fire this level's people (default: group manager and incident managers)",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Escalate open incidents hierarchically now: tell management (all or none).

    Without --level the group's manager and the incident managers are told; a level fired on
    demand does not fire again by itself. One refused incident leaves every other one
    unescalated."""
    body = validated(EscalationCreate, kind="hierarchic", reason=reason, level_id=level)
    if not (body.reason and body.reason.strip()):
        raise fail("invalid input: reason: say why management is told", BAD_INPUT)
    config = settings()
    done: list[dict[str, Any]] = []
    with handled(), database().unit_of_work() as session:
        for number in dict.fromkeys(numbers):
            incident = incidents.get_incident_for(session, actor(), number, for_update=True)
            row = service.escalate_hierarchic(
                session, config, actor(), incident, reason=body.reason, level_id=level
            )
            session.flush()
            done.append(_escalation(number, row))
    if as_json:
        print_json(done)
        return
    rows = [
        (
            e["incident"],
            e["id"],
            e["rule_id"],
            e["level_id"] or "management",
            e["notified_user_ids"],
        )
        for e in done
    ]
    print_table(("incident", "escalation", "rule", "level", "notified users"), rows)
