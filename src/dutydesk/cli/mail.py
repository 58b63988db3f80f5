"""`dutydesk mail` and `dutydesk smtp`: email in (SMTP receiver, one-off ingest, IMAP poll)."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from dutydesk.cli.common import database, fail, out, settings
from dutydesk.intake.mail.imap import poll_mailbox
from dutydesk.intake.mail.service import ingest_mail
from dutydesk.intake.mail.smtpd import make_controller
from dutydesk.kernel import clock

app = typer.Typer(help="Email in: ingest a message, poll the IMAP mailbox.", no_args_is_help=True)


def smtp(
    port: Annotated[int | None, typer.Option(help="Port (default DUTYDESK_SMTPD_PORT)")] = None,
) -> None:
    """Receive mail over SMTP and ingest each message (SIGTERM stops it)."""
    config = settings()
    controller = make_controller(database(), config, port=port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    controller.start()
    out.print(f"SMTP receiver on {controller.hostname}:{controller.port}")
    try:
        stop.wait()
    finally:
        controller.stop()


@app.command("ingest")
def ingest(
    path: Annotated[Path, typer.Argument(help="An .eml file; - for stdin")],
    mailbox: Annotated[str, typer.Option(help="Mailbox name for the exactly-once key")] = "cli",
) -> None:
    """Ingest one message (e.g. from a mail server's pipe) and print what it became."""
    if str(path) == "-":
        raw = sys.stdin.buffer.read()
    elif path.is_file():
        raw = path.read_bytes()
    else:
        raise fail(f"{path} is not a file")
    with database().unit_of_work() as session:
        result = ingest_mail(session, settings(), mailbox, raw)
    out.print(f"{result.outcome.value} {result.incident_number or ''} {result.reason}".strip())


@app.command("poll")
def poll() -> None:
    """Poll the configured IMAP mailbox once."""
    config = settings()
    if not config.mail_in_imap_host:
        raise fail("DUTYDESK_MAIL_IN_IMAP_HOST is not set")
    run = poll_mailbox(database(), config, clock.now(), force=True)  # now, whatever is due
    out.print(f"{run.done} messages ingested")
