"""The built-in SMTP receiver: a message sent over real SMTP is ingested once, 250 after commit."""

from __future__ import annotations

import smtplib

from sqlalchemy import func, select

from dutydesk.intake.mail.smtpd import make_controller
from dutydesk.models import MailMessage
from tests.intake.mail.conftest import World, message
from tests.intake.mail.dovecot import free_port


def test_smtp_delivery_is_ingested_exactly_once(world: World) -> None:
    controller = make_controller(world.db, world.settings, port=free_port())
    controller.start()
    try:
        raw = message(subject="Sent over SMTP", message_id="<smtp-1@x>")
        for _ in range(2):  # the second delivery (two of our addresses) is a duplicate
            with smtplib.SMTP(controller.hostname, controller.port, timeout=30) as smtp:
                refused = smtp.sendmail("dave@example.com", ["desk@desk.example"], raw)
                assert refused == {}
    finally:
        controller.stop()
    with world.db.unit_of_work(write=False) as s:
        rows = s.execute(
            select(MailMessage.outcome, func.count())
            .where(MailMessage.mailbox == "smtp")
            .group_by(MailMessage.outcome)
        ).all()
    assert dict(rows) == {"created": 1}
