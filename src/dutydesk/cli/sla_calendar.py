"""`dutydesk sla calendar`: business calendars (time zone, weekly hours, holidays)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from dutydesk.cli.common import (
    BAD_INPUT,
    JsonOption,
    actor,
    database,
    fail,
    handled,
    human_seconds,
    parse_duration,
    print_json,
    print_record,
    print_table,
    read_json_object,
    say,
    validated,
)
from dutydesk.kernel import clock
from dutydesk.kernel.errors import InvalidInput, NotFound
from dutydesk.sla import admin as sla_admin
from dutydesk.sla import queries, service
from dutydesk.sla.business_time import add_business_seconds
from dutydesk.sla.calendar import WEEKDAYS, CalendarError
from dutydesk.sla.schemas import (
    CalendarPatch,
    CalendarRead,
    CalendarWrite,
    DeadlineQuery,
    DeadlineRead,
)

app = typer.Typer(help="Business calendars: time zone, hours, holidays.", no_args_is_help=True)

Config = Annotated[
    str,
    typer.Option(
        "--config",
        metavar="JSON|FILE|-",
        help="The calendar as JSON: inline ('{\"timezone\": …}'), a file, or - for stdin. "
        'Keys: timezone, hours {"mon": ["08:00-17:00"], …}, holidays {"country": "DE", '
        '"subdivision": "BY"}, closed_days ["YYYY-MM-DD"], open_days {"YYYY-MM-DD": [...]}',
    ),
]


def calendar_id(session: Session, ref: str) -> int:
    if ref.isdigit():
        return queries.get_calendar(session, int(ref)).id
    found = next((c for c in queries.list_calendars(session) if c.name == ref), None)
    if found is None:
        raise NotFound(f"calendar {ref!r} not found")
    return found.id


# ----------------------------------------------------------------------------- calendars


def _calendar(row: Any) -> dict[str, Any]:
    return CalendarRead.model_validate(row).model_dump(mode="json")


def _hours(config: dict[str, Any]) -> str:
    """`mon-fri 08:00-17:00; sat-sun closed` from the weekly hours."""
    hours = config.get("hours", {})
    groups: list[tuple[list[str], str]] = []
    for day in WEEKDAYS:
        value = hours.get(day) or []
        spans = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        spans = (spans or "closed").replace("00:00-00:00", "24h")
        if groups and groups[-1][1] == spans:
            groups[-1][0].append(day)
        else:
            groups.append(([day], spans))
    return "; ".join(
        f"{days[0]}-{days[-1]} {spans}" if len(days) > 1 else f"{days[0]} {spans}"
        for days, spans in groups
    )


def _holidays(config: dict[str, Any]) -> str:
    rules = config.get("holidays") or {}
    parts = [str(rules.get("country", ""))] if rules else []
    if rules.get("subdivision"):
        parts[-1] += f"-{rules['subdivision']}"
    if config.get("closed_days"):
        parts.append(f"{len(config['closed_days'])} closed days")
    if config.get("open_days"):
        parts.append(f"{len(config['open_days'])} open days")
    return ", ".join(parts)


def _show_calendar(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(data)
        return
    config = data["config"]
    print_record(
        {
            "id": data["id"],
            "name": data["name"],
            "timezone": config.get("timezone"),
            "hours": _hours(config),
            "holidays": _holidays(config),
            "updated": data["updated_at"],
        }
    )


@app.command("list")
def calendar_list(as_json: JsonOption = False) -> None:
    """List business calendars."""
    with handled(), database().unit_of_work(write=False) as session:
        rows = [_calendar(c) for c in queries.list_calendars(session)]
    if as_json:
        print_json(rows)
        return
    print_table(
        ("id", "name", "timezone", "hours", "holidays"),
        [
            (
                c["id"],
                c["name"],
                c["config"].get("timezone"),
                _hours(c["config"]),
                _holidays(c["config"]),
            )
            for c in rows
        ],
    )


@app.command("show")
def calendar_show(
    calendar: Annotated[str, typer.Argument(help="Calendar id or name")],
    as_json: JsonOption = False,
) -> None:
    """Show a calendar and its whole configuration."""
    with handled(), database().unit_of_work(write=False) as session:
        data = _calendar(queries.get_calendar(session, calendar_id(session, calendar)))
    _show_calendar(data, as_json)
    if not as_json:
        print_json(data["config"])


@app.command("add")
def calendar_add(
    name: Annotated[str, typer.Argument(help="A unique name")],
    config: Config,
    as_json: JsonOption = False,
) -> None:
    """Add a business calendar."""
    body = validated(CalendarWrite, name=name, config=read_json_object(config, "--config"))
    with handled(), database().unit_of_work() as session:
        data = _calendar(
            sla_admin.create_calendar(session, actor(), name=body.name, config=body.config)
        )
    _show_calendar(data, as_json)


@app.command("update")
def calendar_update(
    calendar: Annotated[str, typer.Argument(help="Calendar id or name")],
    name: Annotated[str | None, typer.Option(help="A new name")] = None,
    config: Annotated[
        str | None,
        typer.Option("--config", metavar="JSON|FILE|-", help="The whole new configuration"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Rename a calendar or replace its configuration; running clocks use it from their next
    change or check on."""
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = name
    if config is not None:
        values["config"] = read_json_object(config, "--config")
    if not values:
        raise fail("nothing to change: give --name and/or --config", BAD_INPUT)
    body = validated(CalendarPatch, **values)
    with handled(), database().unit_of_work() as session:
        row = queries.get_calendar(session, calendar_id(session, calendar))
        data = _calendar(
            sla_admin.update_calendar(session, actor(), row, name=body.name, config=body.config)
        )
    _show_calendar(data, as_json)


@app.command("delete")
def calendar_delete(calendar: Annotated[str, typer.Argument(help="Calendar id or name")]) -> None:
    """Delete a calendar that no policy, OLA or clock uses."""
    with handled(), database().unit_of_work() as session:
        row = queries.get_calendar(session, calendar_id(session, calendar))
        name = row.name
        sla_admin.delete_calendar(session, actor(), row)
    say(f"calendar {name!r} deleted")


@app.command("deadline")
def calendar_deadline(
    calendar: Annotated[str, typer.Argument(help="Calendar id or name")],
    duration: Annotated[str, typer.Argument(help="Business time: seconds, or 45m, 8h, 2d")],
    start: Annotated[
        str | None, typer.Option(help="ISO 8601 instant with a UTC offset; default now")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """When DURATION of business time after START ends on this calendar."""
    seconds = parse_duration(duration, "DURATION")
    query = validated(DeadlineQuery, start=start or clock.now(), seconds=seconds)
    with handled(), database().unit_of_work(write=False) as session:
        cal = service.calendar_of(session, calendar_id(session, calendar))
        try:
            due = add_business_seconds(cal, query.start, query.seconds)
        except CalendarError as exc:
            raise InvalidInput(str(exc), errors=[{"field": "seconds", "msg": str(exc)}]) from exc
    data = DeadlineRead(start=query.start, seconds=query.seconds, due_at=due).model_dump(
        mode="json"
    )
    if as_json:
        print_json(data)
        return
    say(f"{human_seconds(seconds)} of business time from {data['start']} ends at {data['due_at']}")
