"""Writes for notifications (never commit): the outbox rows each change announces, user
preferences and dead letters. Endpoints and templates are in `admin`, the worker's
bookkeeping in `delivery`.

`announce` is called by the other domains inside the transaction of the change it tells
about, so the notification exists exactly when the change does (transactional outbox).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from enum import Enum

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dutydesk.access.policy import STAFF, Actor, Role, require_admin, system_actor
from dutydesk.config import Settings
from dutydesk.kernel import clock
from dutydesk.kernel.errors import Conflict, Forbidden, InvalidInput
from dutydesk.models import (
    Customer,
    Incident,
    Notification,
    NotifyPreference,
    NotifyTemplate,
    SupportGroup,
    User,
)
from dutydesk.notify import queries, templates
from dutydesk.notify.channels.email import BadAddress, check_address
from dutydesk.notify.templates import (
    ALL_EVENTS,
    BUILTIN,
    DEFAULT_OFF,
    EVENTS,
    PERSONAL_EVENTS,
    PERSONAL_EXTRA,
    REPORT_EVENTS,
    REQUIRED_EXTRA,
    USER_CHANNELS,
    Rendered,
    Template,
    TemplateProblem,
)
from dutydesk.people import queries as people_queries

log = logging.getLogger("dutydesk.notify")
JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]
INTERNAL_EXTRA = ("notify_user_ids",)  # steers recipients; not shown to templates or webhooks
_OCCURRENCE_RE = re.compile(r"^[A-Za-z0-9._\-]{1,80}$")  # else hashed (no ":" clash)

# ----------------------------------------------------------------- announce


def _plain(value: object) -> JsonValue:
    """`extra` as JSON-able data: datetimes as ISO text, enums as their values."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return str(value)


def _display_name(user: User | None) -> str:
    return (user.full_name or user.username) if user is not None else ""


def incident_context(
    session: Session, settings: Settings, incident: Incident
) -> dict[str, JsonValue]:
    """The incident as templates and webhooks see it: public fields and names, no ids."""
    group = (
        session.get(SupportGroup, incident.assignment_group_id)
        if incident.assignment_group_id
        else None
    )
    assignee = session.get(User, incident.assignee_id) if incident.assignee_id else None
    caller = session.get(User, incident.caller_id) if incident.caller_id else None
    customer = session.get(Customer, incident.customer_id) if incident.customer_id else None
    return {
        "number": incident.number,
        "short_description": incident.short_description,
        "description": incident.description,
        "state": incident.state,
        "priority": incident.priority,
        "impact": incident.impact,
        "urgency": incident.urgency,
        "assignment_group": group.name if group else "",
        "assignee": _display_name(assignee),
        "caller": _display_name(caller),
        "customer": customer.name if customer else "",
        "opened_at": incident.opened_at.isoformat(),
        "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
        "url": f"{settings.public_base_url.rstrip('/')}/incidents/{incident.number}",
    }


def _group_or_assignee(session: Session, incident: Incident) -> list[int]:
    if incident.assignee_id is not None:
        return [incident.assignee_id]
    if incident.assignment_group_id is not None:
        return people_queries.list_group_member_ids(session, incident.assignment_group_id)
    return []


def audience(
    session: Session, incident: Incident, event: str, actor: Actor, notify_user_ids: list[int]
) -> list[int]:
    """Who is told about `event` by email, before preferences and the actor are taken out."""
    if event == "assigned":
        ids = _group_or_assignee(session, incident)
    elif event == "public_reply":  # staff reply → the caller; the caller's reply → the desk
        ids = [incident.caller_id] if actor.is_staff and incident.caller_id else []
        if not actor.is_staff:
            ids = _group_or_assignee(session, incident)
    elif event == "mentioned":  # exactly the agents named in the note or reply
        ids = list(notify_user_ids)
    elif event in ("state_changed", "resolved", "closed"):
        ids = [incident.caller_id] if incident.caller_id else []
    else:  # sla_warning, sla_breached, escalated: the assignee and the group's manager
        ids = [incident.assignee_id] if incident.assignee_id else []
        if incident.assignment_group_id is not None:
            group = session.get(SupportGroup, incident.assignment_group_id)
            if group is not None and group.manager_id is not None:
                ids.append(group.manager_id)
        ids.extend(notify_user_ids)
    return list(dict.fromkeys(ids))


def _mail_users(session: Session, ids: list[int], event: str, actor: Actor) -> list[User]:
    """Active users with a usable address who did not opt out; never the actor."""
    ids = [i for i in ids if i != actor.user_id]
    if not ids:
        return []
    out = queries.opted_out(session, ids, event, "email")
    users = session.scalars(select(User).where(User.id.in_(sorted(set(ids))))).all()
    by_id = {u.id: u for u in users}
    chosen = []
    for user_id in ids:
        user = by_id.get(user_id)
        if user is None or not user.is_active or not user.email or user_id in out:
            continue
        try:
            check_address(user.email)
        except BadAddress:
            log.warning("user %s has an unusable e-mail address; not notified", user.id)
            continue
        chosen.append(user)
    return chosen


def _render(
    overrides: Mapping[str, NotifyTemplate], event: str, channel: str, context: Mapping[str, object]
) -> Rendered:
    """The admin's template, or the built-in when there is none or it fails on this data."""
    own = overrides.get(channel)
    if own is not None:
        try:
            return templates.render(channel, Template(own.subject, own.body), context)
        except TemplateProblem as exc:
            log.warning("template %s/%s failed (%s); the built-in is used", event, channel, exc)
    try:
        return templates.render(channel, BUILTIN[(event, channel)], context)
    except TemplateProblem as exc:
        raise ValueError(f"announce({event!r}): the extra data does not fit: {exc}") from exc


def _dedupe_key(number: str, event: str, occurrence: str, who: str) -> str:
    occ = (
        occurrence
        if _OCCURRENCE_RE.match(occurrence)
        else ("h" + hashlib.sha256(occurrence.encode()).hexdigest()[:40])
    )
    return f"{number}:{event}:{occ}:{who}"


def mail_domain(settings: Settings) -> str:
    return re.sub(r"[^A-Za-z0-9.\-]", "", settings.mail_domain).strip(".") or "dutydesk.localhost"


def thread_id(settings: Settings, number: str) -> str:
    """The Message-ID every mail of an incident refers to, so mail clients thread them."""
    return f"<{number}@{mail_domain(settings)}>"


def new_message_id(settings: Settings, number: str) -> str:
    return f"<{secrets.token_hex(10)}.{number}@{mail_domain(settings)}>"


def _insert_new(session: Session, rows: list[Notification]) -> list[Notification]:
    """Insert the rows whose dedupe key is not taken; a concurrent twin is skipped too."""
    if not rows:
        return []
    taken = set(
        session.scalars(
            select(Notification.dedupe_key).where(
                Notification.dedupe_key.in_([r.dedupe_key for r in rows])
            )
        )
    )
    fresh = [r for r in rows if r.dedupe_key not in taken]
    try:
        with session.begin_nested():
            session.add_all(fresh)
            session.flush()
        return fresh
    except IntegrityError:  # another transaction announced the same occurrence meanwhile
        inserted = []
        for row in fresh:
            try:
                with session.begin_nested():
                    session.add(row)
                    session.flush()
                inserted.append(row)
            except IntegrityError:
                continue
        return inserted


def _split_extra(event: str, extra: Mapping[str, object] | None) -> tuple[JsonValue, list[int]]:
    """(what templates and webhooks see, the extra user ids to notify); checks the keys."""
    given = dict(extra or {})
    missing = [k for k in REQUIRED_EXTRA[event] if k not in given]
    if missing:
        raise ValueError(f"announce({event!r}) needs extra {', '.join(missing)}")
    raw_ids = given.get("notify_user_ids") or []
    ids = [int(str(i)) for i in raw_ids] if isinstance(raw_ids, list | tuple | set) else []
    return _plain({k: v for k, v in given.items() if k not in INTERNAL_EXTRA}), ids


def announce(
    session: Session,
    settings: Settings,
    incident: Incident,
    event: str,
    *,
    actor: Actor,
    occurrence: str,
    extra: Mapping[str, object] | None = None,
    recipients: Iterable[int] | None = None,
) -> list[Notification]:
    """Write the notifications of one occurrence of `event` on `incident`; returns new rows.

    `occurrence` names this occurrence (a history event's hash or seq, an SLA clock id and
    threshold): announcing the same occurrence again writes nothing. `recipients` (user ids)
    replaces the event's usual audience; preferences, inactive users and the actor are
    always taken out. Every active endpoint subscribed to the event gets one row too.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}")
    public_extra, notify_user_ids = _split_extra(event, extra)
    now = clock.now()
    view = incident_context(session, settings, incident)
    context = {"incident": view, "event": event, "actor": actor.name, "extra": public_extra}
    if recipients is None:
        ids = audience(session, incident, event, actor, notify_user_ids)
    else:
        ids = list(dict.fromkeys(recipients))
    overrides = queries.overrides_for(session, event)
    email = _render(overrides, event, "email", context)
    subject = f"[{incident.number}] {email.subject}"  # the tag mail filters and replies use

    def row(channel: str, who: str, recipient: str, rendered: Rendered) -> Notification:
        return Notification(
            dedupe_key=_dedupe_key(incident.number, event, occurrence, who),
            incident_id=incident.id,
            event=event,
            channel=channel,
            recipient=recipient,
            subject=rendered.subject,
            body=rendered.body,
            message_id=new_message_id(settings, incident.number),
            in_reply_to=thread_id(settings, incident.number),
            state="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )

    rows = []
    for user in _mail_users(session, ids, event, actor):
        rows.append(row("email", f"user{user.id}", user.email, Rendered(subject, email.body)))
        rows[-1].recipient_user_id = user.id
    shared_extra = (
        {k: v for k, v in public_extra.items() if k not in PERSONAL_EXTRA}
        if isinstance(public_extra, dict)
        else public_extra
    )
    shared = {**context, "extra": shared_extra}
    payload = {"event": event, "incident": view, "extra": shared_extra, "occurred_at": now}
    endpoints = (
        [] if event in PERSONAL_EVENTS else queries.list_subscribed_endpoints(session, event)
    )
    for endpoint in endpoints:
        if endpoint.kind == "webhook":
            rendered = Rendered(subject, json.dumps(_plain(payload), ensure_ascii=False))
        else:
            rendered = _render(overrides, event, endpoint.kind, shared)
        rows.append(row(endpoint.kind, f"endpoint{endpoint.id}", endpoint.url, rendered))
        rows[-1].endpoint_id = endpoint.id
    return _insert_new(session, rows)


REPORTER = system_actor(channel="worker", name="DutyDesk")


def announce_report(
    session: Session,
    settings: Settings,
    event: str,
    *,
    recipients: Iterable[int],
    occurrence: str,
    extra: Mapping[str, object] | None = None,
) -> list[Notification]:
    """Write the e-mails of one occurrence of a report event (about no incident); returns the
    new rows. Only active staff with a usable address who turned the event on get one; no
    endpoint does (the figures depend on who reads them). Dedupe key per user and occurrence
    (e.g. the ISO week), so writing the same occurrence again writes nothing.
    """
    if event not in REPORT_EVENTS:
        raise ValueError(f"unknown report event {event!r}")
    public_extra, _ids = _split_extra(event, extra)
    now = clock.now()
    ids = list(dict.fromkeys(recipients))
    subscribed = queries.opted_in(session, ids, event, "email")
    context = {"incident": {}, "event": event, "actor": REPORTER.name, "extra": public_extra}
    email = _render(queries.overrides_for(session, event), event, "email", context)
    rows = []
    for user in _mail_users(session, [i for i in ids if i in subscribed], event, REPORTER):
        if user.role not in STAFF:
            continue
        rows.append(
            Notification(
                dedupe_key=_dedupe_key("report", event, occurrence, f"user{user.id}"),
                incident_id=None,
                event=event,
                channel="email",
                recipient=user.email,
                recipient_user_id=user.id,
                subject=email.subject,
                body=email.body,
                message_id=new_message_id(settings, "report"),
                in_reply_to=None,
                state="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
    return _insert_new(session, rows)


def send_account_mail(
    session: Session,
    settings: Settings,
    user: User,
    *,
    event: str,
    occurrence: str,
    subject: str,
    body: str,
) -> list[Notification]:
    """Queue one e-mail about a user's own account (a password reset link): fixed text written
    by the caller, no template override (an admin template must not be able to reroute or
    drop a reset link), no preference (the user asked for it). Deduped per occurrence."""
    if not user.email or not user.is_active:
        return []
    now = clock.now()
    row = Notification(
        dedupe_key=_dedupe_key("account", event, occurrence, f"user{user.id}"),
        incident_id=None,
        event=event,
        channel="email",
        recipient=user.email,
        recipient_user_id=user.id,
        subject=subject,
        body=body,
        message_id=new_message_id(settings, "account"),
        in_reply_to=None,
        state="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    return _insert_new(session, [row])


def retry(session: Session, actor: Actor, notification_id: int) -> Notification:
    """Put a dead letter back in the queue with a fresh set of attempts (admins)."""
    require_admin(actor)
    found = queries.get_notification(session, notification_id)
    if found.state != "dead":
        raise Conflict(
            f"notification {notification_id} is {found.state}; only dead ones are retried"
        )
    found.state = "pending"
    found.attempts = 0
    found.next_attempt_at = clock.now()
    session.flush()
    return found


# ----------------------------------------------------------------- preferences


def check_event(event: str, field: str = "event") -> None:
    # endpoints ("events") get incident events only; reports are mailed to subscribed staff
    known = EVENTS if field == "events" else ALL_EVENTS
    if event not in known:
        raise InvalidInput(
            f"unknown event {event!r}; events are {', '.join(known)}",
            errors=[{"field": field, "msg": "unknown event"}],
        )


def own_user_id(actor: Actor) -> int:
    if actor.user_id is None:
        raise Forbidden("only users have notification preferences")
    return actor.user_id


def set_preference(
    session: Session, actor: Actor, user_id: int, event: str, channel: str, enabled: bool
) -> NotifyPreference:
    """A user's choice for one event on one channel; users set their own, admins anyone's."""
    if actor.user_id != user_id:
        require_admin(actor)
    check_event(event)
    if channel not in USER_CHANNELS:
        raise InvalidInput(
            f"users choose notifications on {', '.join(USER_CHANNELS)}, not {channel!r}",
            errors=[{"field": "channel", "msg": "unknown channel"}],
        )
    user = people_queries.get_user(session, user_id)
    if event in DEFAULT_OFF and enabled and Role(user.role) not in STAFF:
        raise Forbidden(f"{event} is for staff; {user.username} cannot subscribe to it")
    found = session.get(NotifyPreference, (user_id, event, channel))
    if found is None:
        found = NotifyPreference(user_id=user_id, event=event, channel=channel, enabled=enabled)
        session.add(found)
    found.enabled = enabled
    session.flush()
    return found
