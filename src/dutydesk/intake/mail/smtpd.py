"""The built-in SMTP receiver (aiosmtpd): direct delivery of mail to DutyDesk.

A message is answered ``250`` only after its ingest has committed, so a sender whose
connection or our process dies before that keeps the mail and retries it (SMTP's own
store-and-forward does the at-least-once part; the (mailbox, Message-ID) key the exactly-once
part). A database failure answers ``451`` (try again later), never loses the mail. Every
recipient shares the mailbox ``smtp``: one mail addressed to two of our addresses is one
incident.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.controller import Controller

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.intake.mail.service import ingest_mail

log = logging.getLogger("dutydesk.intake.mail.smtpd")
MAILBOX = "smtp"


class IngestHandler:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def _ingest(self, raw: bytes) -> str:
        with self.db.unit_of_work() as session:
            return ingest_mail(session, self.settings, MAILBOX, raw).outcome.value

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if not isinstance(raw, bytes):
            raw = str(raw).encode("utf-8", "surrogateescape")
        if len(raw) > self.settings.mail_in_max_bytes:
            return "552 message too large"
        try:
            outcome = await asyncio.get_running_loop().run_in_executor(None, self._ingest, raw)
        except Exception:
            log.exception("ingest failed; the sender will retry")
            return "451 4.3.0 temporary failure, try again later"
        return f"250 OK {outcome}"


def make_controller(db: Database, settings: Settings, *, port: int | None = None) -> Controller:
    return Controller(
        IngestHandler(db, settings),
        hostname=settings.smtpd_host,
        port=settings.smtpd_port if port is None else port,
        data_size_limit=settings.mail_in_max_bytes,
    )
