"""Delivery bookkeeping for the worker (never commits): claim a due notification with a
compare-and-set, then record how sending it went: sent, retry with backoff, or dead."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dutydesk.config import Settings
from dutydesk.kernel import clock
from dutydesk.models import (
    Notification,
    NotifyEndpoint,
)
from dutydesk.notify.channels import Outcome

MAX_BACKOFF_SECONDS = 3600.0


@dataclass(frozen=True)
class Delivery:
    """What the worker needs to send one claimed notification, read in the claim."""

    id: int
    event: str
    channel: str
    recipient: str
    subject: str
    body: str
    message_id: str
    in_reply_to: str | None
    attempts: int
    lease_until: datetime
    due_at: datetime
    endpoint_url: str | None = None
    endpoint_secret: str | None = None
    endpoint_active: bool = False


def claim(
    session: Session, notification_id: int, seen: datetime, lease_until: datetime
) -> Delivery | None:
    """Compare-and-set: reserve the notification until `lease_until` if it is still due at
    `seen`; None when another worker got there first."""
    result = session.execute(
        update(Notification)
        .where(
            Notification.id == notification_id,
            Notification.next_attempt_at == seen,
            Notification.state == "pending",
        )
        .values(next_attempt_at=lease_until, attempts=Notification.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    n = session.execute(
        select(
            Notification.event,
            Notification.channel,
            Notification.recipient,
            Notification.subject,
            Notification.body,
            Notification.message_id,
            Notification.in_reply_to,
            Notification.attempts,
            Notification.endpoint_id,
        ).where(Notification.id == notification_id)
    ).one()
    endpoint = session.get(NotifyEndpoint, n.endpoint_id) if n.endpoint_id is not None else None
    return Delivery(
        id=notification_id,
        event=n.event,
        channel=n.channel,
        recipient=n.recipient,
        subject=n.subject,
        body=n.body,
        message_id=n.message_id,
        in_reply_to=n.in_reply_to,
        attempts=n.attempts,
        lease_until=lease_until,
        due_at=seen,
        endpoint_url=endpoint.url if endpoint else None,
        endpoint_secret=endpoint.secret if endpoint else None,
        endpoint_active=bool(endpoint and endpoint.active),
    )


def backoff_seconds(settings: Settings, attempts: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter: base · 2^(attempts-1), capped at an hour, × [0.5, 1.5]."""
    delay = min(
        MAX_BACKOFF_SECONDS, settings.notify_backoff_seconds * 2.0 ** min(max(attempts - 1, 0), 30)
    )
    delay *= random.uniform(0.5, 1.5)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_BACKOFF_SECONDS))
    return delay


def record_outcome(
    session: Session, settings: Settings, delivery: Delivery, outcome: Outcome
) -> str:
    """Mark the notification sent, schedule its retry, or make it a dead letter; returns the
    state written ('' when the row had meanwhile been handled elsewhere)."""
    now = clock.now()
    mine = Notification.id == delivery.id
    if outcome.result == "sent":  # whoever holds the lease now: it has been delivered
        values: dict[str, object] = {"state": "sent", "sent_at": now, "next_attempt_at": None}
        where = [mine, Notification.state == "pending"]
    else:
        where = [
            mine,
            Notification.state == "pending",
            Notification.next_attempt_at == delivery.lease_until,
        ]
        gives_up = outcome.result != "retry" or delivery.attempts >= settings.notify_max_attempts
        if gives_up:
            state = "cancelled" if outcome.result == "cancelled" else "dead"
            values = {"state": state, "next_attempt_at": None, "last_error": outcome.error}
        else:
            delay = backoff_seconds(settings, delivery.attempts, outcome.retry_after)
            values = {
                "next_attempt_at": now + timedelta(seconds=delay),
                "last_error": outcome.error,
            }
    result = session.execute(
        update(Notification)
        .where(*where)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return ""
    return str(values.get("state", "pending"))
