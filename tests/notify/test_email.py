"""Email: headers that user text cannot forge, threading per incident, delivery to a real
SMTP server (aiosmtpd) and what happens when it refuses or is not there."""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.kernel import clock
from dutydesk.models import Incident, Notification, User
from dutydesk.notify import service
from dutydesk.notify.channels import Outcome
from dutydesk.notify.channels.email import (
    NOT_CONFIGURED,
    BadAddress,
    BadSetting,
    SmtpSender,
    build_message,
    check_address,
)
from dutydesk.notify.jobs import deliver_due
from tests.factories import Cast
from tests.notify.conftest import SYSTEM, T0, Inbox, actor_of, free_port, make_incident

EVIL = "\r\nBcc: evil@example.com\r\nX-Evil: yes"
CHANGE = {"old_state": "assigned", "new_state": "in_progress"}
HEADERS = (
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "auto-submitted",
    "x-auto-response-suppress",
    "content-type",
    "content-transfer-encoding",
    "mime-version",
)


def rows(db: Database) -> list[Notification]:
    with db.unit_of_work(write=False) as s:
        found = list(s.scalars(select(Notification).order_by(Notification.id)))
        s.expunge_all()  # keep them readable after the read transaction ends
        return found


def announce_change(db: Database, settings: Settings, incident: Incident, n: int = 1) -> None:
    with clock.frozen(T0), db.unit_of_work() as s:
        for i in range(n):
            service.announce(
                s,
                settings,
                s.get(Incident, incident.id) or incident,
                "state_changed",
                actor=SYSTEM,
                occurrence=str(i),
                extra=CHANGE,
            )


def deliver(db: Database, settings: Settings, at: timedelta = timedelta()) -> int:
    with clock.frozen(T0 + at):
        return deliver_due(db, settings, clock.now()).done


def test_user_text_with_crlf_adds_no_header_and_no_recipient(
    db: Database, cast: Cast, smtp_settings: Settings, inbox: Inbox
) -> None:
    with db.unit_of_work() as s:
        s.execute(update(User).where(User.id == cast.dave.id).values(full_name="Dave" + EVIL))
        s.execute(update(User).where(User.id == cast.alice.id).values(full_name="Alice" + EVIL))
    incident = make_incident(
        db, cast, group=cast.desk, assignee=cast.alice, short_description="Mail down" + EVIL
    )
    with clock.frozen(T0), db.unit_of_work() as s:
        service.announce(
            s,
            smtp_settings,
            s.get(Incident, incident.id) or incident,
            "assigned",
            actor=actor_of(db, cast.dave),
            occurrence="1",
            extra={"comment": "Note" + EVIL},
        )
        service.announce(
            s,
            smtp_settings,
            s.get(Incident, incident.id) or incident,
            "state_changed",
            actor=actor_of(db, cast.alice),
            occurrence="2",
            extra=CHANGE,
        )
    assert deliver(db, smtp_settings) == 2
    assert len(inbox.messages) == 2
    for received in inbox.messages:
        assert received.rcpt_tos in (["alice@example.com"], ["dave@example.com"])
        head = received.data.split(b"\r\n\r\n", 1)[0].decode()
        lines = re.sub(r"\r\n[ \t]+", " ", head).split("\r\n")  # unfolded header lines
        names = [line.split(":", 1)[0].lower() for line in lines]
        assert sorted(names) == sorted(HEADERS), names
        assert all(line.startswith("Subject: ") for line in lines if "evil" in line), lines
        message = received.message
        assert message.get_all("To") == received.rcpt_tos
        assert "Bcc: evil@example.com X-Evil: yes" in message["Subject"]
    assigned = next(m.message for m in inbox.messages if m.rcpt_tos == ["alice@example.com"])
    assert assigned["Subject"] == (
        f"[{incident.number}] Assigned to Alice Bcc: evil@example.com X-Evil: yes: "
        "Mail down Bcc: evil@example.com X-Evil: yes"
    )


def test_addresses_must_be_exactly_one_plain_mailbox() -> None:
    assert check_address("dave@example.com") == "dave@example.com"
    assert check_address("dutydesk@localhost") == "dutydesk@localhost"
    for bad in (
        "dave@example.com\r\nBcc: evil@example.com",
        "dave@example.com\nevil@example.com",
        "dave@example.com, evil@example.com",
        "dave@example.com;evil@example.com",
        "Dave <dave@example.com>",
        "dave<evil@example.com>",
        "dave@example.com\x00",
        "dave@example.com\u2028",
        "dave",
        "@example.com",
        "dave@",
        "a@b@c",
        "",
    ):
        with pytest.raises(BadAddress):
            check_address(bad)


def test_build_message_refuses_forged_recipients_ids_and_senders(smtp_settings: Settings) -> None:
    base = {
        "to": "dave@example.com",
        "subject": "Hi" + EVIL,
        "body": "line one\r\nBcc: not-a-header@example.com\r\n",
        "message_id": "<abc.INC0000001@dutydesk.example>",
        "thread_id": "<INC0000001@dutydesk.example>",
        "date": T0,
    }
    message = build_message(smtp_settings, **base)  # type: ignore[arg-type]
    parsed = BytesParser(policy=default).parsebytes(message.as_bytes())
    assert parsed["Subject"] == "Hi Bcc: evil@example.com X-Evil: yes"
    assert parsed["Bcc"] is None and parsed["X-Evil"] is None
    assert "Bcc: not-a-header@example.com" in parsed.get_content()
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["X-Auto-Response-Suppress"] == "All"
    assert parsed["From"] == "DutyDesk <desk@dutydesk.example>"
    assert parsed["Date"] == "Mon, 23 Nov 2026 09:00:00 +0000"
    for field, value in (
        ("to", "dave@example.com\r\nBcc: evil@example.com"),
        ("message_id", "<abc@x>\r\nBcc: evil@example.com"),
        ("thread_id", "<a@b> <c@d>"),
    ):
        with pytest.raises(BadAddress):
            build_message(smtp_settings, **{**base, field: value})  # type: ignore[arg-type]
    forged = smtp_settings.model_copy(
        update={"mail_from": "Desk <a@b.example>\r\nBcc: e@x.example"}
    )
    with pytest.raises(BadSetting):
        build_message(forged, **base)  # type: ignore[arg-type]


def test_every_mail_of_an_incident_threads_on_one_id(
    db: Database, cast: Cast, smtp_settings: Settings, inbox: Inbox
) -> None:
    incident = make_incident(db, cast, group=cast.desk, assignee=cast.alice)
    other = make_incident(db, cast, group=cast.desk, assignee=cast.alice)
    announce_change(db, smtp_settings, incident, 3)
    announce_change(db, smtp_settings, other, 1)
    assert deliver(db, smtp_settings) == 4
    messages = [m.message for m in inbox.messages]
    ids = [m["Message-ID"] for m in messages]
    assert len(set(ids)) == 4
    for message in messages:
        number = incident.number if incident.number in message["Subject"] else other.number
        thread = f"<{number}@dutydesk.example>"
        assert message["Subject"].startswith(f"[{number}] ")
        assert message["In-Reply-To"] == message["References"] == thread
        assert message["Message-ID"].endswith(f".{number}@dutydesk.example>")
    assert {r.message_id for r in rows(db)} == set(ids)
    assert all(r.state == "sent" and r.sent_at == T0 and r.attempts == 1 for r in rows(db))


def test_without_smtp_mail_becomes_a_dead_letter_at_once(
    db: Database, cast: Cast, notify_settings: Settings
) -> None:
    announce_change(db, notify_settings, make_incident(db, cast))
    assert deliver(db, notify_settings) == 1
    [row] = rows(db)
    assert (row.state, row.attempts, row.next_attempt_at) == ("dead", 1, None)
    assert row.last_error == NOT_CONFIGURED
    assert deliver(db, notify_settings, timedelta(days=1)) == 0  # never loops


def test_a_refused_recipient_is_dead_and_a_missing_server_is_retried(
    db: Database, cast: Cast, smtp_settings: Settings, inbox: Inbox
) -> None:
    inbox.refuse.add("dave@example.com")
    announce_change(db, smtp_settings, make_incident(db, cast))
    assert deliver(db, smtp_settings) == 1
    [row] = rows(db)
    assert row.state == "dead" and row.last_error is not None and "550" in row.last_error

    down = smtp_settings.model_copy(update={"smtp_port": free_port()})
    with db.unit_of_work() as s:
        s.execute(update(Notification).values(state="pending", attempts=0, next_attempt_at=T0))
    inbox.refuse.clear()
    assert deliver(db, down) == 1
    [row] = rows(db)
    assert row.state == "pending" and row.attempts == 1
    assert row.last_error is not None and row.last_error.startswith("SMTP error")
    assert row.next_attempt_at is not None
    assert T0 + timedelta(seconds=15) <= row.next_attempt_at <= T0 + timedelta(seconds=45)
    assert deliver(db, smtp_settings, timedelta(seconds=14)) == 0  # not due yet
    assert deliver(db, smtp_settings, timedelta(seconds=45)) == 1  # the server is back
    [row] = rows(db)
    assert row.state == "sent" and row.attempts == 2 and len(inbox.messages) == 1


def test_a_connection_the_server_dropped_is_replaced_at_once(smtp_settings: Settings) -> None:
    box = Inbox(port=free_port())
    settings = smtp_settings.model_copy(update={"smtp_port": box.port})

    def message(n: int) -> EmailMessage:
        return build_message(
            settings,
            to="dave@example.com",
            subject="s",
            body="b",
            message_id=f"<{n}.INC0000001@dutydesk.example>",
            thread_id=None,
            date=T0,
        )

    with SmtpSender(settings) as sender:
        for n in range(2):  # the server restarts between the two: the first session is gone
            controller = Controller(box, hostname="127.0.0.1", port=box.port)
            controller.start()
            try:
                assert sender.send(message(n), "dave@example.com") == Outcome.sent()
            finally:
                controller.stop()
    assert len(box.messages) == 2
