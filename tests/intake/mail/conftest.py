"""Fixtures for email-in tests: settings, the cast, a World with incident A (open, caller
dave, opened by mail) and incident R (resolved), and an `ingest` helper."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dutydesk.access.policy import system_actor
from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.incidents import actions
from dutydesk.incidents.queries import get_incident_by_number
from dutydesk.incidents.schemas import ActionRequest
from dutydesk.intake.mail.service import MailOutcome, Outcome, ingest_mail
from dutydesk.kernel import clock
from tests.factories import Cast, make_cast

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DOMAIN = "desk.example"


def message(
    sender: str = "dave@example.com",
    subject: str = "Printer on floor 3 is jammed",
    body: str = "The printer shows E42.",
    message_id: str | None = "<m1@example.com>",
    headers: dict[str, str] | None = None,
) -> bytes:
    lines = [f"From: {sender}", "To: desk@desk.example", f"Subject: {subject}"]
    lines.append("Date: Mon, 23 Nov 2026 10:00:00 +0100")
    if message_id:
        lines.append(f"Message-ID: {message_id}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines += ["Content-Type: text/plain; charset=utf-8", "", body, ""]
    return "\r\n".join(lines).encode("utf-8")


@pytest.fixture
def mail_settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url="sqlite://",
        storage_dir=tmp_path / "files",
        mail_domain=DOMAIN,
        mail_from="DutyDesk <dutydesk@localhost>",
        mail_in_addresses="desk@desk.example",
        mail_in_unknown_sender="hold",
    )


@dataclass
class World:
    db: Database
    settings: Settings
    cast: Cast
    a: str  # open, caller dave, opened by the mail <seed-0001@acme.example>
    r: str  # resolved, caller dave

    def ingest(self, raw: bytes, mailbox: str = "support", **changes: object) -> MailOutcome:
        settings = self.settings.model_copy(update=changes) if changes else self.settings
        with self.db.unit_of_work() as s:
            return ingest_mail(s, settings, mailbox, raw)


@pytest.fixture
def world(db: Database, mail_settings: Settings) -> Iterator[World]:
    with clock.frozen(T0):
        cast = make_cast(db)
        w = World(db, mail_settings, cast, "", "")
        first = w.ingest(message(message_id="<seed-0001@acme.example>"))
        assert first.outcome == Outcome.created and first.incident_number
        second = w.ingest(message(subject="VPN drops", message_id="<seed-0002@acme.example>"))
        assert second.incident_number
        resolve(db, mail_settings, cast, second.incident_number)
        w.a, w.r = first.incident_number, second.incident_number
        yield w


def resolve(db: Database, settings: Settings, cast: Cast, number: str) -> None:
    actor = system_actor()
    with db.unit_of_work() as s:
        incident = get_incident_by_number(s, number)
        assert incident is not None
        incident.category_id = cast.hardware.id  # the closure checklist asks for it
        act: Callable[..., object] = actions.perform_action
        act(s, actor, incident, "assign", ActionRequest(group_id=cast.desk.id), settings=settings)
        act(
            s,
            actor,
            incident,
            "resolve",
            ActionRequest(
                resolution_code="fixed", resolution_notes="Restarted", is_workaround=False
            ),
            settings=settings,
        )
