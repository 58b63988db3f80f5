"""The IMAP poller: a worker job that ingests new mail of the configured mailbox.

Exactly once across crashes (M2): each message is ingested and the mailbox's last UID
advanced in one transaction; only after that commit is the message flagged ``\\Seen`` (or
moved to the done folder). A poller killed anywhere either re-reads a message whose
transaction did not commit, or finds it already behind the stored UID; a message committed
but not yet flagged is flagged at the next poll. When the server's UIDVALIDITY changes, the
UIDs start again from 1 and the (mailbox, Message-ID) key keeps the re-read messages from
being imported twice.

The poll schedule is ``mailbox_state.next_poll_at``: a worker connects only when it has
passed, after moving it ``mail_in_imap_poll_seconds`` ahead with a compare-and-set, so
several workers poll a mailbox once per interval and a worker round in between costs one
indexed read, not an IMAP login.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from imapclient import IMAPClient
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.intake.mail.service import ingest_mail
from dutydesk.kernel import clock
from dutydesk.models import MailboxState
from dutydesk.worker import JobRun

log = logging.getLogger("dutydesk.intake.mail.imap")
FLAG = b"\\Seen"


def mailbox_name(settings: Settings) -> str:
    user, host = settings.mail_in_imap_username, settings.mail_in_imap_host
    return f"imap:{user}@{host}/{settings.mail_in_imap_folder}"[:80]


@contextmanager
def connect(settings: Settings) -> Iterator[Any]:
    security = settings.mail_in_imap_security
    client = IMAPClient(
        settings.mail_in_imap_host,
        port=settings.mail_in_imap_port,
        ssl=security == "tls",
        ssl_context=ssl.create_default_context() if security == "tls" else None,
        timeout=30,
    )
    try:
        if security == "starttls":
            client.starttls(ssl.create_default_context())
        client.login(settings.mail_in_imap_username, settings.mail_in_imap_password)
        yield client
    finally:
        try:
            client.logout()
        except Exception:  # the connection is going away anyway
            log.debug("IMAP logout failed", exc_info=True)


def _state(session: Session, mailbox: str, validity: int) -> MailboxState:
    state = session.get(MailboxState, mailbox)
    if state is None:
        state = MailboxState(
            mailbox=mailbox, uid_validity=validity, last_uid=0, updated_at=clock.now()
        )
        session.add(state)
        session.flush()
    if state.uid_validity is None:  # created by the poll schedule before the first poll
        state.uid_validity = validity
    if state.uid_validity != validity:
        log.warning("%s: UIDVALIDITY changed; reading from UID 1 again", mailbox)
        state.uid_validity, state.last_uid = validity, 0
    return state


def claim_poll(session: Session, mailbox: str, now: datetime, interval: float) -> bool:
    """True when this caller may poll now: the due time passed and it moved it ahead first."""
    following = now + timedelta(seconds=interval)
    state = session.get(MailboxState, mailbox)
    if state is None:
        try:
            with session.begin_nested():
                session.add(
                    MailboxState(
                        mailbox=mailbox, last_uid=0, updated_at=now, next_poll_at=following
                    )
                )
                session.flush()
        except IntegrityError:  # another worker created it a moment ago: its poll
            return False
        return True
    seen = state.next_poll_at
    if seen is not None and seen > now:
        return False
    due = MailboxState.next_poll_at
    claimed = session.execute(
        update(MailboxState)
        .where(MailboxState.mailbox == mailbox, due.is_(None) if seen is None else due == seen)
        .values(next_poll_at=following)
        .execution_options(synchronize_session=False)
    )
    return getattr(claimed, "rowcount", 0) == 1


def _settle(client: Any, settings: Settings, uids: list[int]) -> None:
    """Flag (or move) messages whose ingest is committed."""
    if not uids:
        return
    if settings.mail_in_imap_done_folder:
        client.move(uids, settings.mail_in_imap_done_folder)
    else:
        client.add_flags(uids, [FLAG])


def poll_mailbox(db: Database, settings: Settings, now: datetime, *, force: bool = False) -> JobRun:
    """One pass over the folder when due (or `force`d: `dutydesk mail poll`): every message
    after the stored UID, oldest first."""
    if not settings.mail_in_imap_host:
        return JobRun()
    mailbox = mailbox_name(settings)
    if not force:
        with db.unit_of_work() as session:
            if not claim_poll(session, mailbox, now, settings.mail_in_imap_poll_seconds):
                return JobRun()
    done, lag = 0, 0.0
    with connect(settings) as client:
        info = client.select_folder(settings.mail_in_imap_folder)
        validity = int(info[b"UIDVALIDITY"])
        with db.unit_of_work() as session:
            last = _state(session, mailbox, validity).last_uid
        if not settings.mail_in_imap_done_folder and last:
            # committed before a crash but never flagged
            _settle(client, settings, list(client.search(["UNSEEN", "UID", f"1:{last}"])))
        uids = sorted(u for u in client.search(["UID", f"{last + 1}:*"]) if u > last)
        batch_size = settings.mail_in_imap_batch
        for start in range(0, len(uids), batch_size):
            batch = uids[start : start + batch_size]
            fetched = client.fetch(batch, [b"BODY.PEEK[]", b"INTERNALDATE"])
            committed: list[int] = []
            for uid in batch:
                item = fetched.get(uid)
                if item is None:
                    continue  # expunged meanwhile
                raw = bytes(item.get(b"BODY[]") or b"")
                with db.unit_of_work() as session:
                    ingest_mail(session, settings, mailbox, raw)
                    state = _state(session, mailbox, validity)
                    state.last_uid = max(state.last_uid, uid)
                    state.updated_at = clock.now()
                committed.append(uid)
                done += 1
                arrived = item.get(b"INTERNALDATE")
                if isinstance(arrived, datetime) and arrived.tzinfo is not None:
                    lag = max(lag, (now - arrived).total_seconds())
            _settle(client, settings, committed)
    return JobRun(done=done, lag_seconds=max(lag, 0.0))


__all__ = ["claim_poll", "connect", "mailbox_name", "poll_mailbox"]
