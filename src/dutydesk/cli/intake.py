"""`dutydesk integration`: monitoring integrations and their tokens, via the intake admin."""

from __future__ import annotations

from typing import Annotated

import typer

from dutydesk.cli.common import (
    JsonOption,
    actor,
    database,
    handled,
    parse_duration,
    print_json,
    print_table,
    say,
    validated,
)
from dutydesk.intake import admin, queries
from dutydesk.intake.schemas import IntegrationCreate, IntegrationRead
from dutydesk.kernel.errors import NotFound

app = typer.Typer(
    help="Monitoring integrations (generic events, Alertmanager, PagerDuty Events v2).",
    no_args_is_help=True,
)


@app.command("create")
def create(
    name: str,
    kind: Annotated[str, typer.Option(help="generic | alertmanager | pagerduty")] = "generic",
    group: Annotated[
        int | None, typer.Option(help="Support group id new incidents are assigned to")
    ] = None,
    service: Annotated[int | None, typer.Option(help="Default service id")] = None,
    heartbeat: Annotated[
        str | None, typer.Option(help="Expect an event this often (e.g. 5m); else an incident")
    ] = None,
    no_auto_resolve: Annotated[
        bool, typer.Option("--no-auto-resolve", help="Leave incidents open when alerts resolve")
    ] = False,
) -> None:
    """Create an integration; its token is printed alone on the last line (shown once)."""
    data = validated(
        IntegrationCreate,
        name=name,
        kind=kind,
        assignment_group_id=group,
        service_id=service,
        heartbeat_seconds=parse_duration(heartbeat, "--heartbeat") if heartbeat else None,
        auto_resolve=not no_auto_resolve,
    )
    with handled(), database().unit_of_work() as session:
        integration, token = admin.create_integration(session, actor(), data)
        say(f"integration {integration.name} ({integration.kind}) created, id {integration.id}")
    say("token (shown once):")
    say(token)


@app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """Integrations with their kind, state and last event."""
    with handled(), database().unit_of_work(write=False) as session:
        rows = [IntegrationRead.model_validate(i) for i in queries.list_integrations(session)]
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    print_table(
        ["id", "name", "kind", "state", "token", "last event"],
        [
            [
                r.id,
                r.name,
                r.kind,
                "revoked" if r.revoked_at else ("active" if r.active else "disabled"),
                f"{r.token_hint}…",
                r.last_event_at.isoformat() if r.last_event_at else "-",
            ]
            for r in rows
        ],
    )


@app.command("revoke")
def revoke(name: str) -> None:
    """Revoke the integration's token: its events are refused (403) from now on."""
    with handled(), database().unit_of_work() as session:
        found = queries.find_integration_by_name(session, name)
        if found is None:
            raise NotFound(f"there is no integration named {name!r}")
        admin.revoke_token(session, actor(), found)
    say(f"the token of {name} is revoked")
