"""Reads for notifications: the outbox, endpoints, template overrides and preferences."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from dutydesk.access.policy import STAFF
from dutydesk.kernel.errors import InvalidInput, NotFound
from dutydesk.kernel.pagination import after_clause, decode_cursor, encode_cursor
from dutydesk.models import (
    Incident,
    Notification,
    NotifyEndpoint,
    NotifyPreference,
    NotifyTemplate,
    User,
)
from dutydesk.notify.templates import (
    BUILTIN,
    DEFAULT_OFF,
    EVENTS,
    REPORT_EVENTS,
    TEMPLATE_CHANNELS,
    USER_CHANNELS,
)

STAFF_ROLES = tuple(sorted(role.value for role in STAFF))

STATES = ("pending", "sent", "dead", "cancelled", "bounced")
_OUTBOX_ORDER: list[tuple[InstrumentedAttribute[Any], bool]] = [(Notification.id, True)]


def get_notification(session: Session, notification_id: int) -> Notification:
    found = session.get(Notification, notification_id)
    if found is None:
        raise NotFound(f"notification {notification_id} not found")
    return found


def get_incident_number(session: Session, incident_id: int | None) -> str | None:
    if incident_id is None:
        return None
    return session.scalar(select(Incident.number).where(Incident.id == incident_id))


@dataclass
class OutboxPage:
    items: list[tuple[Notification, str | None]]  # (notification, incident number)
    next_cursor: str | None


def list_notifications(
    session: Session,
    *,
    state: str | None = None,
    incident_number: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> OutboxPage:
    """Newest first; keyset-paginated on id (ix_notification_state_id, ix_notification_incident)."""
    query = select(Notification, Incident.number).outerjoin(
        Incident, Incident.id == Notification.incident_id
    )
    if state:
        if state not in STATES:
            raise InvalidInput(
                f"state must be one of {', '.join(STATES)}",
                errors=[{"field": "state", "msg": "unknown state"}],
            )
        query = query.where(Notification.state == state)
    if incident_number:
        query = query.where(Incident.number == incident_number)
    if cursor:
        query = query.where(after_clause(_OUTBOX_ORDER, decode_cursor(cursor, _OUTBOX_ORDER)))
    rows = session.execute(query.order_by(Notification.id.desc()).limit(limit + 1)).all()
    items: list[tuple[Notification, str | None]] = [(n, number) for n, number in rows]
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        next_cursor = encode_cursor([items[-1][0].id])
    return OutboxPage(items, next_cursor)


def list_due(session: Session, now: datetime, limit: int) -> list[tuple[int, datetime]]:
    """(id, next_attempt_at) of what is due at `now`, oldest first (ix_notification_due)."""
    rows = session.execute(
        select(Notification.id, Notification.next_attempt_at)
        .where(Notification.next_attempt_at.is_not(None), Notification.next_attempt_at <= now)
        .order_by(Notification.next_attempt_at)
        .limit(limit)
    ).all()
    return [(ident, due) for ident, due in rows if due is not None]


def get_endpoint(session: Session, endpoint_id: int) -> NotifyEndpoint:
    found = session.get(NotifyEndpoint, endpoint_id)
    if found is None:
        raise NotFound(f"notification endpoint {endpoint_id} not found")
    return found


def list_endpoints(session: Session, *, active_only: bool = False) -> Sequence[NotifyEndpoint]:
    query = select(NotifyEndpoint).order_by(NotifyEndpoint.name)
    if active_only:
        query = query.where(NotifyEndpoint.active.is_(True))
    return session.scalars(query).all()


def endpoint_events(endpoint: NotifyEndpoint) -> list[str]:
    """The events an endpoint subscribes to; [] means every event."""
    events = json.loads(endpoint.events or "[]")
    return [str(e) for e in events] if isinstance(events, list) else []


def list_subscribed_endpoints(session: Session, event: str) -> list[NotifyEndpoint]:
    return [
        e
        for e in list_endpoints(session, active_only=True)
        if not endpoint_events(e) or event in endpoint_events(e)
    ]


def get_override(session: Session, event: str, channel: str) -> NotifyTemplate | None:
    return session.scalar(
        select(NotifyTemplate).where(
            NotifyTemplate.event == event, NotifyTemplate.channel == channel
        )
    )


def overrides_for(session: Session, event: str) -> dict[str, NotifyTemplate]:
    rows = session.scalars(select(NotifyTemplate).where(NotifyTemplate.event == event)).all()
    return {row.channel: row for row in rows}


@dataclass(frozen=True)
class TemplateView:
    event: str
    channel: str
    subject: str
    body: str
    overridden: bool
    updated_at: datetime | None


def list_templates(session: Session) -> list[TemplateView]:
    """Every (event, templated channel): the admin's override where there is one."""
    overrides = {(t.event, t.channel): t for t in session.scalars(select(NotifyTemplate)).all()}
    views = []
    pairs = [(e, c) for e in EVENTS for c in TEMPLATE_CHANNELS]
    pairs += [(e, "email") for e in REPORT_EVENTS]  # reports are mailed only
    for event, channel in pairs:
        own = overrides.get((event, channel))
        builtin = BUILTIN[(event, channel)]
        views.append(
            TemplateView(
                event,
                channel,
                own.subject if own else builtin.subject,
                own.body if own else builtin.body,
                own is not None,
                own.updated_at if own else None,
            )
        )
    return views


def get_template_view(session: Session, event: str, channel: str) -> TemplateView:
    if (event, channel) not in BUILTIN:
        raise InvalidInput(
            f"{event} messages are not sent on {channel}",
            errors=[{"field": "channel", "msg": "no template for this event and channel"}],
        )
    own = get_override(session, event, channel)
    builtin = BUILTIN[(event, channel)]
    if own is None:
        return TemplateView(event, channel, builtin.subject, builtin.body, False, None)
    return TemplateView(event, channel, own.subject, own.body, True, own.updated_at)


@dataclass(frozen=True)
class PreferenceView:
    event: str
    channel: str
    enabled: bool
    is_default: bool


def list_preferences(session: Session, user_id: int) -> list[PreferenceView]:
    """Every (event, user channel) for the user: their choice, or the default (enabled, but
    off for DEFAULT_OFF events); staff also see the report events."""
    rows = session.scalars(select(NotifyPreference).where(NotifyPreference.user_id == user_id))
    chosen = {(p.event, p.channel): p.enabled for p in rows}
    role = session.scalar(select(User.role).where(User.id == user_id))
    events = EVENTS + (REPORT_EVENTS if role in STAFF_ROLES else ())
    return [
        PreferenceView(
            event,
            channel,
            chosen.get((event, channel), event not in DEFAULT_OFF),
            (event, channel) not in chosen,
        )
        for event in events
        for channel in USER_CHANNELS
    ]


def opted_in(session: Session, user_ids: Sequence[int], event: str, channel: str) -> set[int]:
    """The users who turned `event` on (what DEFAULT_OFF events need)."""
    if not user_ids:
        return set()
    return set(
        session.scalars(
            select(NotifyPreference.user_id).where(
                NotifyPreference.user_id.in_(sorted(set(user_ids))),
                NotifyPreference.event == event,
                NotifyPreference.channel == channel,
                NotifyPreference.enabled.is_(True),
            )
        )
    )


def subscribers(session: Session, event: str, channel: str = "email") -> list[int]:
    """Ids of the active staff who turned `event` on, in id order."""
    return list(
        session.scalars(
            select(User.id)
            .join(NotifyPreference, NotifyPreference.user_id == User.id)
            .where(
                NotifyPreference.event == event,
                NotifyPreference.channel == channel,
                NotifyPreference.enabled.is_(True),
                User.is_active.is_(True),
                User.role.in_(STAFF_ROLES),
            )
            .order_by(User.id)
        )
    )


def opted_out(session: Session, user_ids: Sequence[int], event: str, channel: str) -> set[int]:
    if not user_ids:
        return set()
    return set(
        session.scalars(
            select(NotifyPreference.user_id).where(
                NotifyPreference.user_id.in_(sorted(set(user_ids))),
                NotifyPreference.event == event,
                NotifyPreference.channel == channel,
                NotifyPreference.enabled.is_(False),
            )
        )
    )
