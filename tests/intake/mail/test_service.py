"""ingest_mail: exactly once, cross-customer refusal, reopen rules, unknown senders, the
automatic-reply limit, and the quarantine's admin API."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dutydesk.app import create_app
from dutydesk.intake.mail.service import Outcome
from dutydesk.kernel import clock
from dutydesk.models import Incident, MailMessage, MailQuarantine, Notification, User
from tests.intake.mail.conftest import T0, World, message


def test_the_same_message_twice_is_one_record(world: World) -> None:
    raw = message(subject="Twice", message_id="<twice@x>")
    assert world.ingest(raw).outcome == Outcome.created
    assert world.ingest(raw).outcome == Outcome.duplicate
    assert world.ingest(raw, mailbox="other").outcome == Outcome.created  # per mailbox
    with world.db.unit_of_work(write=False) as s:
        assert s.scalar(select(func.count()).where(Incident.short_description == "Twice")) == 2


def test_without_message_id_the_body_hash_is_the_key(world: World) -> None:
    raw = message(subject="No id", message_id=None)
    first = world.ingest(raw)
    assert first.outcome == Outcome.created
    assert world.ingest(raw).outcome == Outcome.duplicate
    with world.db.unit_of_work(write=False) as s:
        record = s.get(MailMessage, first.record_id)
        assert record is not None and record.message_key.startswith("sha256:")


def test_another_customer_is_never_merged(world: World) -> None:
    raw = message("carol@example.com", f"Re: [{world.a}] x", "mine", "<c@x>")
    result = world.ingest(raw)
    assert result.outcome == Outcome.created and result.incident_number != world.a
    assert world.a in result.reason


def test_reply_to_closed_incident_opens_a_linked_follow_up(world: World) -> None:
    with clock.frozen(T0 + timedelta(days=30)):
        raw = message(subject=f"Re: [{world.r}] VPN", body="Again.", message_id="<late@x>")
        result = world.ingest(raw)
    assert result.outcome == Outcome.follow_up
    assert result.incident_number not in (world.r, None)


def test_unknown_sender_policies(world: World) -> None:
    raw = message("new.person@acme.example", "Hi", "Hello", "<u1@x>")
    assert world.ingest(raw).outcome == Outcome.held
    assert (
        world.ingest(
            message("x@y.example", message_id="<u2@x>"),
            mailbox="r",
            mail_in_unknown_sender="reject",
        ).outcome
        == Outcome.rejected
    )
    created = world.ingest(
        message("new.person@acme.example", "Hi", "Hello", "<u3@x>"),
        mail_in_unknown_sender="create",
        mail_in_unknown_customer="Acme",
    )
    assert created.outcome == Outcome.created
    with world.db.unit_of_work(write=False) as s:
        user = s.scalars(select(User).where(User.email == "new.person@acme.example")).one()
        assert user.role == "requester" and user.customer_id == world.cast.acme.id


def test_hostile_mail_is_quarantined_with_its_bytes_and_never_raises(world: World) -> None:
    raw = b"From: dave@example.com\r\nContent-Type: multipart/mixed\r\n\r\n" + b"\xff" * 100
    for sample in (b"", b"\x00" * 50, raw, b"Subject: " + b"A" * 100_000):
        result = world.ingest(sample, mailbox=f"h{len(sample)}")
        assert result.outcome in (Outcome.quarantined, Outcome.created), sample[:40]


def test_automatic_replies_are_limited_per_sender(world: World) -> None:
    with clock.frozen(T0 + timedelta(hours=5)), world.db.unit_of_work() as s:
        before = s.scalar(select(func.count()).select_from(Notification)) or 0
    for i in range(4):
        world.ingest(
            message(subject=f"Flood {i}", message_id=f"<flood-{i}@x>"),
            mail_in_auto_replies_per_hour=2,
        )
    with world.db.unit_of_work(write=False) as s:
        pending = s.scalar(
            select(func.count()).where(
                Notification.recipient == "dave@example.com", Notification.state == "pending"
            )
        )
        assert (pending or 0) <= before + 2


def test_quarantine_admin_api(world: World) -> None:
    held = world.ingest(message("stranger@acme.example", "Help", "Please", "<q1@x>"))
    assert held.outcome == Outcome.held
    settings = world.settings.model_copy(update={"mail_in_unknown_customer": "Acme"})
    client = TestClient(create_app(settings, world.db), raise_server_exceptions=False)
    bob, dave = world.cast.bob.headers, world.cast.dave.headers
    assert client.get("/api/v1/admin/mail/quarantine", headers=dave).status_code == 403
    listed = client.get("/api/v1/admin/mail/quarantine", headers=bob).json()["items"]
    qid = next(i["id"] for i in listed if i["message_key"] == "<q1@x>")
    raw = client.get(f"/api/v1/admin/mail/quarantine/{qid}/raw", headers=bob)
    assert raw.status_code == 200 and b"Please" in raw.content
    retried = client.post(f"/api/v1/admin/mail/quarantine/{qid}/retry", headers=bob)
    assert retried.status_code == 200 and retried.json()["outcome"] == "created"
    again = client.post(f"/api/v1/admin/mail/quarantine/{qid}/retry", headers=bob)
    assert again.status_code == 409
    broken = world.ingest(b"\x00garbage")
    with world.db.unit_of_work(write=False) as s:
        record = s.get(MailMessage, broken.record_id)
        assert record is not None and record.quarantine_id
        bid = record.quarantine_id
    gone = client.post(f"/api/v1/admin/mail/quarantine/{bid}/discard", headers=bob)
    assert gone.status_code == 200 and gone.json()["state"] == "discarded"
    with world.db.unit_of_work(write=False) as s:
        entry = s.get(MailQuarantine, bid)
        assert entry is not None and entry.raw == b"\x00garbage"  # kept, never lost
