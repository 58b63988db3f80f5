"""`dutydesk notify`: webhook endpoints, templates and the outbox, through the notify services."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from dutydesk.cli.common import (
    BAD_INPUT,
    JsonOption,
    actor,
    database,
    err,
    fail,
    handled,
    print_json,
    print_record,
    print_table,
    read_text,
    say,
    settings,
    validated,
)
from dutydesk.models import Notification, NotifyEndpoint
from dutydesk.notify import admin, queries, service
from dutydesk.notify.schemas import (
    EndpointCreate,
    EndpointPatch,
    EndpointRead,
    NotificationRead,
    TemplateRead,
    TemplateWrite,
)
from dutydesk.notify.templates import ALL_EVENTS, EVENTS, TEMPLATE_CHANNELS

app = typer.Typer(help="Notification endpoints, templates and the outbox.", no_args_is_help=True)
endpoint_app = typer.Typer(
    help="Outgoing webhooks (generic, Slack- or Teams-compatible).", no_args_is_help=True
)
template_app = typer.Typer(help="The templates of each event and channel.", no_args_is_help=True)
outbox_app = typer.Typer(help="Inspect and retry queued notifications.", no_args_is_help=True)
app.add_typer(endpoint_app, name="endpoint")
app.add_typer(template_app, name="template")
app.add_typer(outbox_app, name="outbox")

Events = Annotated[
    list[str] | None,
    typer.Option("--event", help=f"Send only this event (repeat): {', '.join(EVENTS)}"),
]
SecretStdin = Annotated[
    bool,
    typer.Option("--secret-stdin", help="Read the HMAC secret (16-200 characters) from stdin"),
]


def _secret_from_stdin() -> str:
    return sys.stdin.readline().rstrip("\n")


# ----------------------------------------------------------------------------- endpoints


def _endpoint(endpoint: NotifyEndpoint) -> dict[str, Any]:
    read = EndpointRead.model_validate(endpoint)
    return read.model_copy(update={"has_secret": bool(endpoint.secret)}).model_dump(mode="json")


ENDPOINT_COLUMNS = ("id", "name", "kind", "url", "events", "active")


def _endpoint_row(e: dict[str, Any]) -> tuple[object, ...]:
    return (e["id"], e["name"], e["kind"], e["url"], e["events"] or "every event", e["active"])


def _show_endpoint(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(data)
    else:
        print_record(dict(zip(ENDPOINT_COLUMNS, _endpoint_row(data), strict=True)))


@endpoint_app.command("list")
def endpoint_list(as_json: JsonOption = False) -> None:
    """List notification endpoints."""
    with handled(), database().unit_of_work(write=False) as session:
        rows = [_endpoint(e) for e in queries.list_endpoints(session)]
    if as_json:
        print_json(rows)
    else:
        print_table(ENDPOINT_COLUMNS, [_endpoint_row(e) for e in rows])


@endpoint_app.command("add")
def endpoint_add(
    name: Annotated[str, typer.Argument(help="A unique name")],
    url: Annotated[str, typer.Option(help="http(s) URL the notifications are POSTed to")],
    kind: Annotated[str, typer.Option(help="webhook, slack or teams")] = "webhook",
    event: Events = None,
    secret_stdin: SecretStdin = False,
    as_json: JsonOption = False,
) -> None:
    """Add an endpoint; its signing secret (generated unless given) is printed only now, alone
    on the last line."""
    values: dict[str, Any] = {"name": name, "url": url, "kind": kind, "events": event or []}
    if secret_stdin:
        values["secret"] = _secret_from_stdin()
    body = validated(EndpointCreate, **values)
    with handled(), database().unit_of_work() as session:
        endpoint, secret = admin.create_endpoint(session, actor(), **body.model_dump())
        data = _endpoint(endpoint)
    if as_json:
        print_json({**data, "secret": secret})
        return
    _show_endpoint(data, False)
    say(f"endpoint {data['id']} added; its signing secret is shown only once:")
    print(secret)


@endpoint_app.command("update")
def endpoint_update(
    endpoint_id: Annotated[int, typer.Argument(help="Endpoint id")],
    name: Annotated[str | None, typer.Option(help="A new name")] = None,
    url: Annotated[str | None, typer.Option(help="A new URL")] = None,
    event: Events = None,
    all_events: Annotated[
        bool, typer.Option("--all-events", help="Send every event (clears --event)")
    ] = False,
    active: Annotated[
        bool | None, typer.Option("--active/--inactive", help="Switch the endpoint on or off")
    ] = None,
    secret_stdin: SecretStdin = False,
    as_json: JsonOption = False,
) -> None:
    """Change an endpoint; only the options given change."""
    if all_events and event:
        raise fail("give --event or --all-events, not both", BAD_INPUT)
    values: dict[str, Any] = {}
    for key, value in (("name", name), ("url", url), ("active", active)):
        if value is not None:
            values[key] = value
    if event or all_events:
        values["events"] = event or []
    if secret_stdin:
        values["secret"] = _secret_from_stdin()
    if not values:
        raise fail("nothing to change: give at least one option", BAD_INPUT)
    body = validated(EndpointPatch, **values)
    with handled(), database().unit_of_work() as session:
        endpoint = queries.get_endpoint(session, endpoint_id)
        changes = body.model_dump(exclude_unset=True)
        data = _endpoint(admin.update_endpoint(session, actor(), endpoint, changes))
    _show_endpoint(data, as_json)


@endpoint_app.command("delete")
def endpoint_delete(endpoint_id: Annotated[int, typer.Argument(help="Endpoint id")]) -> None:
    """Deactivate an endpoint: nothing new is queued for it and its pending notifications are
    cancelled. It is kept, because its outbox rows refer to it."""
    with handled(), database().unit_of_work() as session:
        endpoint = admin.deactivate_endpoint(
            session, actor(), queries.get_endpoint(session, endpoint_id)
        )
        name = endpoint.name
    say(f"endpoint {endpoint_id} {name!r} deactivated")


# ----------------------------------------------------------------------------- templates


def _pair(event: str, channel: str) -> None:
    """Checked here too: reading an unknown pair has no service to refuse it."""
    if event not in ALL_EVENTS:
        raise fail(f"unknown event {event!r}; events are {', '.join(ALL_EVENTS)}", BAD_INPUT)
    if channel not in TEMPLATE_CHANNELS:
        raise fail(
            f"channel {channel!r} has no template; channels are {', '.join(TEMPLATE_CHANNELS)}",
            BAD_INPUT,
        )


def _template(view: object) -> dict[str, Any]:
    return TemplateRead.model_validate(view).model_dump(mode="json")


Event = Annotated[str, typer.Argument(help=", ".join(EVENTS))]
Channel = Annotated[str, typer.Argument(help=", ".join(TEMPLATE_CHANNELS))]


@template_app.command("list")
def template_list(as_json: JsonOption = False) -> None:
    """List the template of every event and channel; 'own' marks an admin's override."""
    with handled(), database().unit_of_work(write=False) as session:
        rows = [_template(v) for v in queries.list_templates(session)]
    if as_json:
        print_json(rows)
        return
    print_table(
        ("event", "channel", "own", "updated", "subject"),
        [(t["event"], t["channel"], t["overridden"], t["updated_at"], t["subject"]) for t in rows],
    )


@template_app.command("show")
def template_show(event: Event, channel: Channel, as_json: JsonOption = False) -> None:
    """Show a template's subject and body."""
    _pair(event, channel)
    with handled(), database().unit_of_work(write=False) as session:
        data = _template(queries.get_template_view(session, event, channel))
    if as_json:
        print_json(data)
        return
    origin = "admin's override" if data["overridden"] else "built-in"
    say(f"{event}/{channel} ({origin})")
    say(f"subject: {data['subject']}")
    typer.echo(data["body"])


@template_app.command("set")
def template_set(
    event: Event,
    channel: Channel,
    subject: Annotated[str, typer.Option(help="The subject (a Jinja template)")],
    body: Annotated[
        str, typer.Option("--body", metavar="FILE|-", help="The body template: a file or - (stdin)")
    ],
    as_json: JsonOption = False,
) -> None:
    """Override the built-in template; refused (naming the line) unless it renders."""
    _pair(event, channel)
    text = validated(TemplateWrite, subject=subject, body=read_text(body, "--body"))
    config = settings()
    with handled(), database().unit_of_work() as session:
        admin.put_template(
            session, config, actor(), event, channel, subject=text.subject, body=text.body
        )
        data = _template(queries.get_template_view(session, event, channel))
    if as_json:
        print_json(data)
    else:
        say(f"{event}/{channel}: template saved")


@template_app.command("reset")
def template_reset(event: Event, channel: Channel) -> None:
    """Go back to the built-in template."""
    _pair(event, channel)
    with handled(), database().unit_of_work() as session:
        admin.delete_template(session, actor(), event, channel)
    say(f"{event}/{channel}: back to the built-in template")


# ----------------------------------------------------------------------------- the outbox


def _notification(notification: Notification, number: str | None) -> dict[str, Any]:
    read = NotificationRead.model_validate(notification)
    return read.model_copy(update={"incident_number": number}).model_dump(mode="json")


OUTBOX_COLUMNS = (
    "id",
    "created",
    "incident",
    "event",
    "channel",
    "recipient",
    "state",
    "attempts",
    "next attempt",
    "last error",
)


def _outbox_row(n: dict[str, Any]) -> tuple[object, ...]:
    return (
        n["id"],
        n["created_at"],
        n["incident_number"],
        n["event"],
        n["channel"],
        n["recipient"],
        n["state"],
        n["attempts"],
        n["next_attempt_at"],
        n["last_error"],
    )


@outbox_app.command("list")
def outbox_list(
    state: Annotated[
        str | None, typer.Option(help="pending, sent, dead or cancelled; default all")
    ] = None,
    incident: Annotated[str | None, typer.Option(help="Only this incident (INC…)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200, help="At most this many")] = 50,
    cursor: Annotated[str | None, typer.Option(help="Continue after a previous page")] = None,
    as_json: JsonOption = False,
) -> None:
    """List notifications, newest first."""
    with handled(), database().unit_of_work(write=False) as session:
        page = queries.list_notifications(
            session, state=state, incident_number=incident, cursor=cursor, limit=limit
        )
        rows = [_notification(n, number) for n, number in page.items]
    if as_json:
        print_json({"items": rows, "next_cursor": page.next_cursor})
        return
    print_table(OUTBOX_COLUMNS, [_outbox_row(n) for n in rows])
    if page.next_cursor:
        err.print(f"more: --cursor {page.next_cursor}", markup=False, highlight=False)


def _show_notification(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(data)
        return
    fields = dict(zip(OUTBOX_COLUMNS, _outbox_row(data), strict=True))
    fields.update(
        {
            "sent": data["sent_at"],
            "message id": data["message_id"],
            "subject": data["subject"],
        }
    )
    print_record(fields)
    typer.echo(data["body"])


@outbox_app.command("show")
def outbox_show(
    notification_id: Annotated[int, typer.Argument(help="Notification id")],
    as_json: JsonOption = False,
) -> None:
    """Show one notification, its body included."""
    with handled(), database().unit_of_work(write=False) as session:
        found = queries.get_notification(session, notification_id)
        data = _notification(found, queries.get_incident_number(session, found.incident_id))
    _show_notification(data, as_json)


@outbox_app.command("retry")
def outbox_retry(
    notification_id: Annotated[int, typer.Argument(help="Notification id (a dead letter)")],
    as_json: JsonOption = False,
) -> None:
    """Queue a dead letter again with a fresh set of attempts."""
    with handled(), database().unit_of_work() as session:
        found = service.retry(session, actor(), notification_id)
        data = _notification(found, queries.get_incident_number(session, found.incident_id))
    if as_json:
        print_json(data)
    else:
        say(f"notification {notification_id} queued again")
