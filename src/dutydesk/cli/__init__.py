"""The `dutydesk` command line: database, serving, demo data, users, tokens, audit, transfer,
and one sub-app per domain (`dutydesk sla …`, `dutydesk notify …`).

A domain's commands are one module here (``cli/<domain>.py``) exposing ``app``; mounting it is
one ``add_typer`` line below. What commands share (settings, database, errors, tables) is in
``cli/common.py``.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import OperationalError

from dutydesk.access.policy import Role, system_actor
from dutydesk.cli import escalation, imports, intake, mail, notify, sla
from dutydesk.cli import routing as routing_cli
from dutydesk.cli import triage as triage_cli
from dutydesk.cli.common import database, domain_error, err, fail, out, settings
from dutydesk.config import get_settings
from dutydesk.kernel.errors import DomainError
from dutydesk.people import queries as people
from dutydesk.people import service as people_service

__all__ = ["app", "database", "fail", "main", "settings"]

app = typer.Typer(
    help="DutyDesk: ITIL incident management.", no_args_is_help=True, add_completion=False
)
user_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
audit_app = typer.Typer(help="Check the tamper-evident history.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")
app.add_typer(sla.app, name="sla")
app.add_typer(notify.app, name="notify")
app.add_typer(escalation.app, name="escalation")
app.add_typer(imports.app, name="import")
app.add_typer(intake.app, name="integration")
app.add_typer(mail.app, name="mail")
app.add_typer(routing_cli.app, name="routing")
app.command("smtp")(mail.smtp)
app.add_typer(triage_cli.app, name="triage")


def _domain(exc: DomainError) -> typer.Exit:
    return domain_error(exc)


@app.command()
def migrate() -> None:
    """Bring the database to the latest schema (creates it when empty)."""
    from dutydesk.migrate import upgrade  # cycle: none; alembic loads only for this command

    db = database()
    upgrade(db.engine)
    out.print(
        f"database at the latest schema: {db.engine.url.render_as_string(hide_password=True)}"
    )


@app.command()
def init(
    admin: Annotated[str, typer.Option(help="User name of the first administrator")] = "admin",
    email: Annotated[
        str, typer.Option(help="E-mail of the first administrator")
    ] = "admin@example.com",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin")
    ] = False,
) -> None:
    """Migrate, then create the first administrator if there is none."""
    migrate()
    db = database()
    with db.unit_of_work() as session:
        if any(u.role == Role.admin for u in people.list_users(session)):
            out.print("an administrator exists already")
            return
        password = (
            sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(12)
        )
        try:
            people_service.add_user(
                session,
                system_actor(),
                username=admin,
                email=email,
                role="admin",
                password=password,
            )
        except DomainError as exc:
            raise _domain(exc) from exc
    out.print(
        f"administrator {admin!r} created"
        + ("" if password_stdin else f" with password {password}")
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="Web processes (PostgreSQL for more than one)")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Do not run the worker inside the server")
    ] = False,
) -> None:
    """Serve the web UI and the REST API, and run the worker (unless --no-worker)."""
    import uvicorn  # cycle: none; uvicorn loads only for this command

    os.environ["DUTYDESK_SERVE_WORKER"] = "false" if no_worker else "true"
    get_settings.cache_clear()

    uvicorn.run(
        "dutydesk.app:served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        proxy_headers=False,
        access_log=log_level == "debug",
    )


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Run one tick and exit")] = False,
) -> None:
    """Run the worker: SLA clocks, escalations, notifications, auto-close (SIGTERM stops it)."""
    from dutydesk.worker import Worker  # cycle: the worker imports every domain's jobs

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    runner = Worker(database(), settings())
    runner.stop_on_signals()
    runner.run(once=once)


@app.command()
def demo(
    incidents: Annotated[int, typer.Option(help="How many incidents to generate")] = 300,
) -> None:
    """Load realistic demo data when the database has none (idempotent)."""
    from dutydesk.demo import load_demo  # cycle: none; demo data loads only for this command

    db = database()
    summary = load_demo(db, incidents=incidents)
    out.print(summary)


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="User name")],
    role: Annotated[Role, typer.Option(help="requester, agent, incident_manager or admin")],
    email: Annotated[str, typer.Option(help="E-mail address")],
    customer: Annotated[str | None, typer.Option(help="Customer name (requesters)")] = None,
    full_name: Annotated[str, typer.Option(help="Display name")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin")
    ] = False,
) -> None:
    """Add a user."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    db = database()
    try:
        with db.unit_of_work() as session:
            customer_id = people.get_customer_by_name(session, customer).id if customer else None
            user = people_service.add_user(
                session,
                system_actor(),
                username=name,
                email=email,
                role=role.value,
                full_name=full_name,
                password=password,
                customer_id=customer_id,
            )
            out.print(f"user {user.username} ({user.role}) added with id {user.id}")
    except DomainError as exc:
        raise _domain(exc) from exc


@user_app.command("list")
def user_list() -> None:
    """List users."""
    db = database()
    with db.unit_of_work(write=False) as session:
        table = Table("id", "user", "email", "role", "customer", "active")
        for u in people.list_users(session):
            table.add_row(
                str(u.id),
                u.username,
                u.email,
                u.role,
                str(u.customer_id or ""),
                "yes" if u.is_active else "no",
            )
        out.print(table)


@user_app.command("set-role")
def user_set_role(
    name: Annotated[str, typer.Argument(help="User name")],
    role: Annotated[Role, typer.Argument(help="The new role")],
) -> None:
    """Change a user's role."""
    try:
        with database().unit_of_work() as session:
            people_service.set_role(
                session, system_actor(), people.get_user_by_username(session, name), role.value
            )
    except DomainError as exc:
        raise _domain(exc) from exc
    out.print(f"{name} is now {role.value}")


@user_app.command("disable")
def user_disable(name: Annotated[str, typer.Argument(help="User name")]) -> None:
    """Disable a user and revoke every token of theirs."""
    try:
        with database().unit_of_work() as session:
            people_service.disable_user(
                session, system_actor(), people.get_user_by_username(session, name)
            )
    except DomainError as exc:
        raise _domain(exc) from exc
    out.print(f"{name} is disabled")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="User name the token acts as")],
    scope: Annotated[str, typer.Option(help="read or write")] = "write",
    label: Annotated[str, typer.Option(help="What the token is for")] = "cli",
) -> None:
    """Create an API token; the token alone is printed on the last line."""
    try:
        with database().unit_of_work() as session:
            user = people.get_user_by_username(session, name)
            token, plain = people_service.create_token(
                session, system_actor(), user, name=label, scope=scope
            )
            token_id = token.id
    except DomainError as exc:
        raise _domain(exc) from exc
    out.print(f"token {token_id} for {name} ({scope}); it is shown only once:")
    print(plain)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="Token id")]) -> None:
    """Revoke an API token."""
    try:
        with database().unit_of_work() as session:
            people_service.revoke_token(
                session, system_actor(), people.get_token(session, token_id)
            )
    except DomainError as exc:
        raise _domain(exc) from exc
    out.print(f"token {token_id} revoked")


@audit_app.command("verify")
def audit_verify(
    all_breaks: Annotated[
        bool, typer.Option("--all", help="Report every broken incident, not just the first")
    ] = False,
) -> None:
    """Walk every incident's hash chain; name the first edited, deleted or inserted event."""
    from dutydesk.incidents.history import verify_chains  # cycle: none; only this command needs it

    with database().unit_of_work(write=False) as session:
        breaks = list(verify_chains(session, stop_at_first=not all_breaks))
    if breaks:
        for b in breaks:
            err.print(f"[red]TAMPERED[/red] {escape(str(b))}", highlight=False)
        raise typer.Exit(1)
    out.print("history intact: every chain verifies")


@app.command("export")
def export_cmd(
    path: Annotated[Path, typer.Argument(help="Output file (JSON lines); - for stdout")],
) -> None:
    """Export every incident with its history, comments, attachments and links as JSON lines."""
    from dutydesk.incidents.transfer import export_incidents  # cycle: none; only this command

    storage = settings().storage_dir
    partial = path.with_name(path.name + ".partial")
    try:
        with database().unit_of_work(write=False) as session:
            if str(path) == "-":
                count = export_incidents(session, sys.stdout, storage_dir=storage)
            else:
                with open(partial, "w", encoding="utf-8") as fh:
                    count = export_incidents(session, fh, storage_dir=storage)
                partial.replace(path)  # a failed export leaves no half-written file behind
    except DomainError as exc:
        partial.unlink(missing_ok=True)
        raise _domain(exc) from exc
    err.print(f"{count} incidents exported")


def main() -> None:
    try:
        app()
    except OperationalError as exc:
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        err.print(f"[red]error:[/red] the database is not reachable: {escape(first)}")
        raise SystemExit(1) from exc
