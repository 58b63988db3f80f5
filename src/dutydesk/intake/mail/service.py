"""Email in: one message becomes exactly one incident, comment, reopen or quarantine entry.

``ingest_mail`` never commits (the caller's unit of work does) and never raises for bad mail:
a message that cannot be parsed or routed is quarantined with its raw bytes. Only database
errors propagate, so the transaction rolls back and the transport offers the mail again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, can_see_incident, require_admin, system_actor
from dutydesk.config import Settings
from dutydesk.incidents import actions, collaboration, history, rules, service
from dutydesk.incidents import queries as incidents
from dutydesk.incidents.lifecycle import Status
from dutydesk.incidents.schemas import ActionRequest, Channel, IncidentCreate
from dutydesk.intake.mail import loops
from dutydesk.intake.mail.parse import Limits, MailError, ParsedMail, clean_subject, parse, raw_key
from dutydesk.kernel import clock
from dutydesk.kernel.errors import Conflict, DomainError, NotFound
from dutydesk.models import (
    Incident,
    MailMessage,
    MailQuarantine,
    MailSenderWindow,
    Notification,
    User,
)
from dutydesk.notify.service import mail_domain
from dutydesk.people import queries as people
from dutydesk.people import service as people_service

UNKNOWN_POLICIES = ("create", "hold", "reject")
MAX_TEXT = 32_000


class Outcome(StrEnum):
    created = "created"
    commented = "commented"
    reopened = "reopened"
    follow_up = "follow_up"
    quarantined = "quarantined"  # broken, hostile or unroutable: kept for an admin
    held = "held"  # unknown sender under the "hold" policy: kept for an admin
    rejected = "rejected"  # unknown sender under the "reject" policy
    ignored_loop = "ignored_loop"
    duplicate = "duplicate"


@dataclass(frozen=True)
class MailOutcome:
    outcome: Outcome
    incident_number: str | None = None
    record_id: int | None = None
    reason: str = ""


class _Hold(Exception):
    def __init__(self, outcome: Outcome, reason: str) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


def limits_of(settings: Settings) -> Limits:
    return Limits(
        max_bytes=settings.mail_in_max_bytes,
        max_attachments=settings.mail_in_max_attachments,
        max_attachment_bytes=settings.max_attachment_bytes,
    )


def ingest_mail(session: Session, settings: Settings, mailbox: str, raw: bytes) -> MailOutcome:
    """Record and route one received message, exactly once per (mailbox, key)."""
    mailbox = mailbox[:80]
    try:
        mail: ParsedMail | None = parse(raw, limits_of(settings))
        key = mail.key if mail else raw_key(raw)
        problem = ""
    except MailError as exc:
        mail, key, problem = None, raw_key(raw), str(exc)
    except Exception as exc:  # hostile input must never stop the transport
        mail, key, problem = None, raw_key(raw), f"the parser failed: {exc.__class__.__name__}"
    key = key.replace("\x00", "")[:255]  # PostgreSQL text refuses NUL
    record = MailMessage(
        mailbox=mailbox,
        message_key=key,
        sender=mail.sender[:254] if mail else "",
        subject=mail.subject if mail else "",
        outcome="pending",
        reason="",
        received_at=clock.now(),
    )
    try:
        with session.begin_nested():  # rolled back, it takes the record out of the session
            session.add(record)
            session.flush()
    except IntegrityError:
        existing = session.scalar(
            select(MailMessage.id).where(
                MailMessage.mailbox == mailbox, MailMessage.message_key == key
            )
        )
        return MailOutcome(Outcome.duplicate, record_id=existing, reason="already received")
    if mail is None:
        return _quarantine(session, record, raw, Outcome.quarantined, problem)
    return _process(session, settings, record, mail, raw, unknown=settings.mail_in_unknown_sender)


def _process(
    session: Session,
    settings: Settings,
    record: MailMessage,
    mail: ParsedMail,
    raw: bytes,
    *,
    unknown: str,
) -> MailOutcome:
    own = loops.own_addresses(settings.mail_from, settings.mail_in_addresses)
    reason = loops.loop_reason(mail, own)
    if reason is not None:
        if loops.is_bounce(mail):
            reason += _note_bounce(session, mail)
        return _finish(record, Outcome.ignored_loop, None, reason)
    last_notification = session.scalar(select(func.max(Notification.id))) or 0
    try:
        with session.begin_nested():
            outcome, incident, comment_id, why = _route(session, settings, mail, unknown)
    except _Hold as hold:
        if hold.outcome == Outcome.rejected:
            return _finish(record, Outcome.rejected, None, hold.reason)
        return _quarantine(session, record, raw, hold.outcome, hold.reason)
    except SQLAlchemyError:
        raise  # the database, not the mail: roll back, the transport offers it again
    except DomainError as exc:
        return _quarantine(session, record, raw, Outcome.quarantined, f"refused: {exc}")
    except Exception as exc:
        return _quarantine(
            session, record, raw, Outcome.quarantined, f"failed: {exc.__class__.__name__}: {exc}"
        )
    record.comment_id = comment_id
    _limit_automatic_replies(session, settings, mail.sender, last_notification)
    return _finish(record, outcome, incident, why)


def _finish(
    record: MailMessage, outcome: Outcome, incident: Incident | None, reason: str
) -> MailOutcome:
    record.outcome = outcome.value
    record.reason = reason.replace("\x00", "")[:2000]  # exception texts may quote the mail
    record.incident_id = incident.id if incident is not None else None
    return MailOutcome(
        outcome, incident.number if incident is not None else None, record.id, reason
    )


def _quarantine(
    session: Session, record: MailMessage, raw: bytes, outcome: Outcome, reason: str
) -> MailOutcome:
    entry = session.get(MailQuarantine, record.quarantine_id) if record.quarantine_id else None
    if entry is None:
        entry = MailQuarantine(
            mailbox=record.mailbox,
            message_key=record.message_key,
            sender=record.sender,
            subject=record.subject,
            raw=raw,
            created_at=clock.now(),
        )
        session.add(entry)
    entry.reason = reason.replace("\x00", "")[:2000]
    entry.state = "held"
    session.flush()
    record.quarantine_id = entry.id
    return _finish(record, outcome, None, reason)


def _note_bounce(session: Session, mail: ParsedMail) -> str:
    """Mark the notifications a delivery report names as bounced and note it on their
    incidents (history `notification_bounced`, rule M-BNC); opens and answers nothing."""
    ids = loops.bounced_ids(mail)
    if not ids:
        return ""
    found = session.scalars(
        select(Notification)
        .where(Notification.message_id.in_(ids), Notification.channel == "email")
        .order_by(Notification.id)
    ).all()
    status = mail.delivery_status or "no delivery status given"
    noted: list[str] = []
    for note in found:
        if note.state == "bounced":
            continue  # a second report of the same bounce
        note.state = "bounced"
        note.bounced_at = clock.now()
        note.next_attempt_at = None
        note.last_error = f"bounced: {status}"[:2000]
        incident = session.get(Incident, note.incident_id) if note.incident_id else None
        if incident is None:
            noted.append(f"notification {note.id}")
            continue
        history.record(
            session,
            incident,
            system_actor("email", "email"),
            "notification_bounced",
            field=f"notification.{note.id}",
            new={
                "recipient": note.recipient[:254],
                "message_id": note.message_id,
                "status": status,
            },
            reason=f"the {note.event} mail to {note.recipient[:254]} bounced",
            rule_id="M-BNC",
        )
        noted.append(f"notification {note.id} ({incident.number})")
    return f"; bounced: {', '.join(noted)}" if noted else ""


# ---------------------------------------------------------------- routing


def _route(
    session: Session, settings: Settings, mail: ParsedMail, unknown: str
) -> tuple[Outcome, Incident, int | None, str]:
    user = _sender(session, settings, mail, unknown)
    actor = people.build_actor(session, user, channel="email")
    incident, why = _thread(session, settings, mail, actor)
    if incident is not None and incident.state != Status.cancelled:
        return _reply(session, settings, actor, incident, mail)
    levels = rules.get_priority_matrix(session).levels  # mail says nothing: lowest, triage raises
    data = IncidentCreate(
        short_description=(clean_subject(mail.subject) or "(no subject)")[:200],
        impact=levels,
        urgency=levels,
        description=(mail.body or mail.reply)[:MAX_TEXT],
        channel=Channel.email,
        caller_id=user.id,
    )
    opened = service.open_incident(session, actor, data, settings=settings)
    session.flush()
    _attach(session, settings, actor, opened, mail)
    return Outcome.created, opened, None, why


def _reply(
    session: Session, settings: Settings, actor: Actor, incident: Incident, mail: ParsedMail
) -> tuple[Outcome, Incident, int | None, str]:
    text = (mail.reply or mail.body or "(empty reply)")[:MAX_TEXT]
    outcome = Outcome.commented
    target = incident
    if incident.state in (Status.resolved, Status.closed):
        actions.ensure_actor_may_act(actor, incident)
        request = ActionRequest(reason=f"Reply by e-mail: {text}"[:500])
        target = actions.perform_action(
            session, actor, incident, "reopen", request, settings=settings
        )
        outcome = Outcome.reopened if target is incident else Outcome.follow_up
        session.flush()
    comment = collaboration.add_comment(session, actor, target, text, "public", settings=settings)
    _attach(session, settings, actor, target, mail)
    return outcome, target, comment.id, f"threaded onto {incident.number}"


def _sender(session: Session, settings: Settings, mail: ParsedMail, unknown: str) -> User:
    if not mail.sender:
        raise _Hold(Outcome.quarantined, "the message has no sender address")
    user = people.find_user_for_login(session, mail.sender)
    if user is not None and user.is_active:
        return user
    if user is not None:
        raise _Hold(Outcome.held, f"the sender {mail.sender} is a disabled user")
    if unknown == "reject":
        raise _Hold(Outcome.rejected, f"unknown sender {mail.sender} (policy: reject)")
    if unknown != "create":
        raise _Hold(Outcome.held, f"unknown sender {mail.sender}: held for review")
    if not settings.mail_in_unknown_customer:
        raise _Hold(Outcome.held, "unknown sender and no mail_in_unknown_customer is set")
    try:
        customer = people.get_customer_by_name(session, settings.mail_in_unknown_customer)
    except NotFound as exc:
        raise _Hold(Outcome.held, f"no customer {settings.mail_in_unknown_customer!r}") from exc
    base = re.sub(r"[^A-Za-z0-9_.\-]", "", mail.sender.split("@")[0])[:60] or "requester"
    base = base if len(base) >= 2 else f"{base}-mail"
    username = base
    for n in range(2, 1000):
        if session.scalar(select(User.id).where(User.username == username)) is None:
            break
        username = f"{base}-{n}"
    return people_service.add_user(
        session,
        system_actor("email", "email"),
        username=username,
        email=mail.sender,
        role="requester",
        full_name=mail.sender_name,
        customer_id=customer.id,
    )


def _our_number(settings: Settings, message_id: str) -> str | None:
    """The incident number in a Message-ID our outbox minted (<hex.INC…@domain>, <INC…@domain>)."""
    domain = re.escape(mail_domain(settings))
    found = re.fullmatch(rf"<(?:[0-9a-f]{{1,64}}\.)?(INC\d{{7,12}})@{domain}>", message_id, re.I)
    return found.group(1).upper() if found else None


def _thread(
    session: Session, settings: Settings, mail: ParsedMail, actor: Actor
) -> tuple[Incident | None, str]:
    """Headers first, then the subject tag; never an incident the sender may not see."""
    refused: list[str] = []
    for mid in mail.thread_ids:
        number = _our_number(settings, mid)
        incident = incidents.get_incident_by_number(session, number) if number else None
        if incident is None:
            incident_id = session.scalar(
                select(MailMessage.incident_id)
                .where(MailMessage.message_key == mid[:255], MailMessage.incident_id.is_not(None))
                .limit(1)
            )
            incident = session.get(Incident, incident_id) if incident_id else None
        if incident is None:
            continue
        if can_see_incident(actor, incident):
            return incident, ""
        refused.append(incident.number)
    if mail.tag:
        incident = incidents.get_incident_by_number(session, mail.tag)
        if incident is not None:
            if can_see_incident(actor, incident):
                return incident, ""
            refused.append(incident.number)
    if refused:
        return None, f"not threaded onto {', '.join(sorted(set(refused)))}: sender may not see it"
    return None, ""


def _attach(
    session: Session, settings: Settings, actor: Actor, incident: Incident, mail: ParsedMail
) -> None:
    dropped = list(mail.dropped)
    for item in mail.attachments:
        try:
            with session.begin_nested():
                collaboration.attach_file(
                    session,
                    actor,
                    incident,
                    filename=item.filename,
                    data=item.data,
                    visibility="public",
                    storage_dir=settings.storage_dir,
                    max_bytes=settings.max_attachment_bytes,
                )
        except DomainError as exc:
            dropped.append(f"{item.filename}: {exc}")
    if dropped:
        note = "Attachments of the e-mail not kept:\n" + "\n".join(f"- {d}" for d in dropped)
        collaboration.add_comment(
            session, system_actor("email", "email"), incident, note[:MAX_TEXT], "work_note"
        )


def _limit_automatic_replies(
    session: Session, settings: Settings, sender: str, last_notification: int
) -> None:
    """Count the sender's mail this hour; above the limit cancel what would answer them (M1)."""
    start = loops.window_start(clock.now())
    row = session.get(MailSenderWindow, (sender[:254], start))
    if row is None:
        row = MailSenderWindow(sender=sender[:254], window_start=start, count=0)
        session.add(row)
    row.count += 1
    session.flush()
    if loops.may_answer(row.count, settings.mail_in_auto_replies_per_hour):
        return
    session.execute(
        update(Notification)
        .where(
            Notification.id > last_notification,
            Notification.recipient == sender,
            Notification.state == "pending",
        )
        .values(
            state="cancelled",
            next_attempt_at=None,
            last_error="automatic replies to this sender are over the hourly limit (M1)",
        )
    )


# ---------------------------------------------------------------- admin


def retry_quarantined(
    session: Session, settings: Settings, actor: Actor, quarantine_id: int
) -> MailOutcome:
    """Route a held message again (unknown senders are now accepted as requesters)."""
    require_admin(actor)
    entry = _held(session, quarantine_id)
    record = session.scalar(select(MailMessage).where(MailMessage.quarantine_id == entry.id))
    if record is None:
        record = MailMessage(
            mailbox=entry.mailbox,
            message_key=entry.message_key,
            sender=entry.sender,
            subject=entry.subject,
            outcome="pending",
            reason="",
            quarantine_id=entry.id,
            received_at=clock.now(),
        )
        session.add(record)
        session.flush()
    try:
        mail = parse(entry.raw, limits_of(settings))
    except MailError as exc:
        return _quarantine(session, record, entry.raw, Outcome.quarantined, str(exc))
    result = _process(session, settings, record, mail, entry.raw, unknown="create")
    if result.outcome not in (Outcome.quarantined, Outcome.held):
        entry.state = "retried"
        entry.resolved_at = clock.now()
        entry.resolved_by_id = actor.user_id
    return result


def discard_quarantined(session: Session, actor: Actor, quarantine_id: int) -> MailQuarantine:
    require_admin(actor)
    entry = _held(session, quarantine_id)
    entry.state = "discarded"
    entry.resolved_at = clock.now()
    entry.resolved_by_id = actor.user_id
    return entry


def _held(session: Session, quarantine_id: int) -> MailQuarantine:
    entry = session.get(MailQuarantine, quarantine_id)
    if entry is None:
        raise NotFound(f"no quarantined mail {quarantine_id}")
    if entry.state != "held":
        raise Conflict(f"quarantined mail {quarantine_id} is already {entry.state}")
    return entry
