"""The worker job that delivers the outbox: claim, send outside any transaction, record.

Each due notification is claimed with a compare-and-set that moves `next_attempt_at` a lease
ahead (one short committed transaction), sent with no transaction open, then marked sent,
rescheduled with backoff, or made a dead letter (another short transaction). A worker killed
between sending and marking leaves the row claimed: after the lease it is sent again with
the same Message-ID and delivery id. Delivery is at least once; receivers deduplicate.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import httpx

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.kernel import clock
from dutydesk.notify import queries
from dutydesk.notify.channels import Outcome, webhook
from dutydesk.notify.channels.email import BadAddress, BadSetting, SmtpSender, build_message
from dutydesk.notify.delivery import Delivery, claim, record_outcome
from dutydesk.worker import JobRun

log = logging.getLogger("dutydesk.notify")


def send(settings: Settings, item: Delivery, mailer: SmtpSender, http: httpx.Client) -> Outcome:
    """One attempt to deliver; never raises (a bug becomes a retry, then a dead letter)."""
    try:
        if item.channel == "email":
            try:
                message = build_message(
                    settings,
                    to=item.recipient,
                    subject=item.subject,
                    body=item.body,
                    message_id=item.message_id,
                    thread_id=item.in_reply_to,
                    date=clock.now(),
                )
            except BadAddress as exc:
                return Outcome.dead(str(exc))
            except BadSetting as exc:  # the same for every mail: retried until it is fixed
                return Outcome.retry(str(exc))
            return mailer.send(message, item.recipient)
        if item.endpoint_url is None or not item.endpoint_active:
            return Outcome.cancelled("the endpoint was deactivated or removed")
        body = webhook.encode_body(
            item.channel,
            notification_id=item.id,
            subject=item.subject,
            body=item.body,
        )
        headers = webhook.request_headers(
            secret=item.endpoint_secret,
            body=body,
            notification_id=item.id,
            event=item.event,
            timestamp=int(clock.now().timestamp()),
        )
        return webhook.post(http, item.endpoint_url, body, headers)
    except Exception as exc:
        log.exception("notification %s: unexpected error while sending", item.id)
        return Outcome.retry(f"internal error: {type(exc).__name__}: {exc}")


def deliver_due(db: Database, settings: Settings, now: datetime) -> JobRun:
    """Deliver up to worker_batch notifications due at `now`, oldest first."""
    with db.unit_of_work(write=False) as session:
        due = queries.list_due(session, now, settings.worker_batch)
    if not due:
        return JobRun()
    done, lag = 0, 0.0
    lease = timedelta(seconds=settings.notify_lease_seconds)
    with SmtpSender(settings) as mailer, webhook.client() as http:
        for notification_id, seen in due:
            with db.unit_of_work() as session:
                item = claim(session, notification_id, seen, clock.now() + lease)
            if item is None:  # another worker claimed it first
                continue
            outcome = send(settings, item, mailer, http)
            with db.unit_of_work() as session:
                state = record_outcome(session, settings, item, outcome)
            if outcome.result != "sent":
                log.info("notification %s: %s (%s)", item.id, state or "taken over", outcome.error)
            done += 1
            lag = max(lag, (now - seen).total_seconds())
    return JobRun(done=done, lag_seconds=lag)
