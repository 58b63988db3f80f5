"""`dutydesk sla`: SLA policies and OLAs (calendars: `sla_calendar`), via the SLA services."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from dutydesk.catalog import queries as catalog
from dutydesk.cli import sla_calendar
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
    validated,
)
from dutydesk.people import queries as people
from dutydesk.sla import admin as sla_admin
from dutydesk.sla import queries
from dutydesk.sla.schemas import (
    OlaCreate,
    OlaPatch,
    OlaRead,
    PolicyCreate,
    PolicyPatch,
    PolicyRead,
)

app = typer.Typer(help="Business calendars, SLA policies and OLAs.", no_args_is_help=True)
policy_app = typer.Typer(
    help="SLA policies: targets per customer × service × priority.", no_args_is_help=True
)
ola_app = typer.Typer(help="OLAs: a support group's resolution targets.", no_args_is_help=True)
app.add_typer(sla_calendar.app, name="calendar")
app.add_typer(policy_app, name="policy")
app.add_typer(ola_app, name="ola")

PAUSE_HELP = "Pause the clocks in this state (repeat): pending_user, pending_vendor, pending_change"
Warn = Annotated[
    list[int] | None,
    typer.Option("--warn", help="Warn at this percent of the target (repeat; default 50, 75)"),
]
NoWarn = Annotated[bool, typer.Option("--no-warn", help="No warnings before the breach")]
Priority = Annotated[str | None, typer.Option("--priority", help="Priority 1-9, or 'any'")]
CalendarRef = Annotated[str | None, typer.Option("--calendar", help="Calendar id or name")]
Customer = Annotated[str | None, typer.Option("--customer", help="Customer id or name, or 'any'")]
ServiceRef = Annotated[str | None, typer.Option("--service", help="Service id or name, or 'any'")]
Response = Annotated[str | None, typer.Option("--response", help="Target: 30m, 4h… or 'none'")]
Resolution = Annotated[str | None, typer.Option("--resolution", help="Target: 8h, 5d… or 'none'")]
Pause = Annotated[list[str] | None, typer.Option("--pause", help=PAUSE_HELP)]
NoPause = Annotated[bool, typer.Option("--no-pause", help="Never pause the clocks")]
Active = Annotated[bool | None, typer.Option("--active/--inactive", help="Switch it on or off")]
RaisePriority = Annotated[
    bool | None,
    typer.Option(
        "--raise-priority/--keep-priority",
        help="Whether a resolution breach raises the incident's priority one step",
    ),
]


# ----------------------------------------------------------------------------- lookups


def _customer_id(session: Session, ref: str) -> int | None:
    if is_any(ref):
        return None
    if ref.isdigit():
        return people.get_customer(session, int(ref)).id
    return people.get_customer_by_name(session, ref).id


def _service_id(session: Session, ref: str) -> int | None:
    if is_any(ref):
        return None
    if ref.isdigit():
        return catalog.get_service(session, int(ref)).id
    return catalog.get_service_by_name(session, ref).id


def _group_id(session: Session, ref: str) -> int:
    if ref.isdigit():
        return people.get_group(session, int(ref)).id
    return people.get_group_by_name(session, ref).id


def _targets(
    *,
    priority: str | None,
    response: str | None,
    resolution: str | None,
    warn: list[int] | None,
    no_warn: bool,
    active: bool | None,
) -> dict[str, Any]:
    """The values of the options given (policies and OLAs); absent ones are left out."""
    if no_warn and warn:
        raise fail("give --warn or --no-warn, not both", BAD_INPUT)
    values: dict[str, Any] = {}
    if priority is not None:
        values["priority"] = None if is_any(priority) else parse_int(priority, "--priority")
    for key, text, option in (
        ("response_seconds", response, "--response"),
        ("resolution_seconds", resolution, "--resolution"),
    ):
        if text is not None:
            values[key] = None if is_any(text) else parse_duration(text, option)
    if warn or no_warn:
        values["warn_percents"] = [] if no_warn else warn
    if active is not None:
        values["active"] = active
    return values


def _references(
    session: Session,
    values: dict[str, Any],
    *,
    calendar: str | None,
    customer: str | None = None,
    service_ref: str | None = None,
) -> dict[str, Any]:
    """`values` with the given calendar, customer and service names turned into ids."""
    if calendar is not None:
        values["calendar_id"] = sla_calendar.calendar_id(session, calendar)
    if customer is not None:
        values["customer_id"] = _customer_id(session, customer)
    if service_ref is not None:
        values["service_id"] = _service_id(session, service_ref)
    return values


# ----------------------------------------------------------------------------- policies


def _policy(row: Any) -> dict[str, Any]:
    return PolicyRead.model_validate(row).model_dump(mode="json")


def _policy_row(p: dict[str, Any]) -> tuple[object, ...]:
    return (
        p["id"],
        p["name"],
        p["customer_id"] or "any",
        p["service_id"] or "any",
        p["priority"] or "any",
        p["calendar_id"],
        human_seconds(p["response_seconds"]),
        human_seconds(p["resolution_seconds"]),
        p["warn_percents"],
        p["pause_states"],
        p.get("raise_priority_on_breach", False),
        p["active"],
    )


POLICY_COLUMNS = (
    "id",
    "name",
    "customer",
    "service",
    "priority",
    "calendar",
    "response",
    "resolution",
    "warn %",
    "pauses in",
    "breach raises P",
    "active",
)


def _show_policy(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(data)
    else:
        print_record(dict(zip(POLICY_COLUMNS, _policy_row(data), strict=True)))


@policy_app.command("list")
def policy_list(as_json: JsonOption = False) -> None:
    """List SLA policies (the most specific active match applies to an incident)."""
    with handled(), database().unit_of_work(write=False) as session:
        rows = [_policy(p) for p in queries.list_policies(session)]
    if as_json:
        print_json(rows)
    else:
        print_table(POLICY_COLUMNS, [_policy_row(p) for p in rows])


@policy_app.command("show")
def policy_show(
    policy_id: Annotated[int, typer.Argument(help="Policy id")], as_json: JsonOption = False
) -> None:
    """Show one SLA policy."""
    with handled(), database().unit_of_work(write=False) as session:
        data = _policy(queries.get_policy(session, policy_id))
    _show_policy(data, as_json)


@policy_app.command("add")
def policy_add(
    name: Annotated[str, typer.Argument(help="A unique name")],
    customer: Customer = None,
    service_ref: ServiceRef = None,
    priority: Priority = None,
    calendar: CalendarRef = None,
    response: Response = None,
    resolution: Resolution = None,
    warn: Warn = None,
    no_warn: NoWarn = False,
    pause: Pause = None,
    no_pause: NoPause = False,
    raise_priority: RaisePriority = None,
    active: Active = None,
    as_json: JsonOption = False,
) -> None:
    """Add an SLA policy for customer × service × priority (left out: matches anything)."""
    values = _policy_values(priority, response, resolution, warn, no_warn, pause, no_pause, active)
    if raise_priority is not None:
        values["raise_priority_on_breach"] = raise_priority
    with handled(), database().unit_of_work() as session:
        refs = {"calendar": calendar, "customer": customer, "service_ref": service_ref}
        body = validated(PolicyCreate, name=name, **_references(session, values, **refs))
        data = _policy(sla_admin.create_policy(session, actor(), body.model_dump()))
    _show_policy(data, as_json)


@policy_app.command("update")
def policy_update(
    policy_id: Annotated[int, typer.Argument(help="Policy id")],
    name: Annotated[str | None, typer.Option(help="A new name")] = None,
    customer: Customer = None,
    service_ref: ServiceRef = None,
    priority: Priority = None,
    calendar: CalendarRef = None,
    response: Response = None,
    resolution: Resolution = None,
    warn: Warn = None,
    no_warn: NoWarn = False,
    pause: Pause = None,
    no_pause: NoPause = False,
    raise_priority: RaisePriority = None,
    active: Active = None,
    as_json: JsonOption = False,
) -> None:
    """Change an SLA policy; incidents pick the change up at their next change (CLK-T)."""
    values = _policy_values(priority, response, resolution, warn, no_warn, pause, no_pause, active)
    if raise_priority is not None:
        values["raise_priority_on_breach"] = raise_priority
    if name is not None:
        values["name"] = name
    refs = {"calendar": calendar, "customer": customer, "service_ref": service_ref}
    if not values and all(r is None for r in refs.values()):
        raise fail("nothing to change: give at least one option", BAD_INPUT)
    with handled(), database().unit_of_work() as session:
        body = validated(PolicyPatch, **_references(session, values, **refs))
        row = queries.get_policy(session, policy_id)
        changes = body.model_dump(exclude_unset=True)
        data = _policy(sla_admin.update_policy(session, actor(), row, changes))
    _show_policy(data, as_json)


def _policy_values(
    priority: str | None,
    response: str | None,
    resolution: str | None,
    warn: list[int] | None,
    no_warn: bool,
    pause: list[str] | None,
    no_pause: bool,
    active: bool | None,
) -> dict[str, Any]:
    if no_pause and pause:
        raise fail("give --pause or --no-pause, not both", BAD_INPUT)
    values = _targets(
        priority=priority,
        response=response,
        resolution=resolution,
        warn=warn,
        no_warn=no_warn,
        active=active,
    )
    if pause or no_pause:
        values["pause_states"] = [] if no_pause else pause
    return values


@policy_app.command("delete")
def policy_delete(policy_id: Annotated[int, typer.Argument(help="Policy id")]) -> None:
    """Delete an SLA policy (not the last catch-all); running clocks keep their targets."""
    with handled(), database().unit_of_work() as session:
        row = queries.get_policy(session, policy_id)
        name = row.name
        sla_admin.delete_policy(session, actor(), row)
    say(f"SLA policy {policy_id} {name!r} deleted")


# ----------------------------------------------------------------------------- OLAs


def _ola(row: Any) -> dict[str, Any]:
    return OlaRead.model_validate(row).model_dump(mode="json")


OLA_COLUMNS = ("id", "group", "priority", "calendar", "resolution", "warn %", "active")


def _ola_row(o: dict[str, Any]) -> tuple[object, ...]:
    return (
        o["id"],
        o["group_id"],
        o["priority"] or "any",
        o["calendar_id"],
        human_seconds(o["resolution_seconds"]),
        o["warn_percents"],
        o["active"],
    )


def _show_ola(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(data)
    else:
        print_record(dict(zip(OLA_COLUMNS, _ola_row(data), strict=True)))


@ola_app.command("list")
def ola_list(as_json: JsonOption = False) -> None:
    """List OLAs."""
    with handled(), database().unit_of_work(write=False) as session:
        rows = [_ola(o) for o in queries.list_olas(session)]
    if as_json:
        print_json(rows)
    else:
        print_table(OLA_COLUMNS, [_ola_row(o) for o in rows])


@ola_app.command("add")
def ola_add(
    group: Annotated[str, typer.Option(help="Support group id or name")],
    resolution: Annotated[str, typer.Option(help="Resolution target: 4h, 2d…")],
    priority: Priority = None,
    calendar: CalendarRef = None,
    warn: Warn = None,
    no_warn: NoWarn = False,
    active: Active = None,
    as_json: JsonOption = False,
) -> None:
    """Add an OLA: the group's target from assignment to that group."""
    values = _targets(
        priority=priority,
        response=None,
        resolution=resolution,
        warn=warn,
        no_warn=no_warn,
        active=active,
    )
    with handled(), database().unit_of_work() as session:
        values["group_id"] = _group_id(session, group)
        body = validated(OlaCreate, **_references(session, values, calendar=calendar))
        data = _ola(sla_admin.create_ola(session, actor(), body.model_dump()))
    _show_ola(data, as_json)


@ola_app.command("update")
def ola_update(
    ola_id: Annotated[int, typer.Argument(help="OLA id")],
    priority: Priority = None,
    calendar: CalendarRef = None,
    resolution: Annotated[str | None, typer.Option(help="Resolution target: 4h, 2d…")] = None,
    warn: Warn = None,
    no_warn: NoWarn = False,
    active: Active = None,
    as_json: JsonOption = False,
) -> None:
    """Change an OLA; incidents pick the change up at their next change."""
    values = _targets(
        priority=priority,
        response=None,
        resolution=resolution,
        warn=warn,
        no_warn=no_warn,
        active=active,
    )
    if not values and calendar is None:
        raise fail("nothing to change: give at least one option", BAD_INPUT)
    with handled(), database().unit_of_work() as session:
        body = validated(OlaPatch, **_references(session, values, calendar=calendar))
        row = queries.get_ola(session, ola_id)
        data = _ola(
            sla_admin.update_ola(session, actor(), row, body.model_dump(exclude_unset=True))
        )
    _show_ola(data, as_json)


@ola_app.command("delete")
def ola_delete(ola_id: Annotated[int, typer.Argument(help="OLA id")]) -> None:
    """Delete an OLA; running OLA clocks keep their targets."""
    with handled(), database().unit_of_work() as session:
        sla_admin.delete_ola(session, actor(), queries.get_ola(session, ola_id))
    say(f"OLA {ola_id} deleted")
