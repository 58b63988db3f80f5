"""The worker's housekeeping of browser sign-in: once an hour, delete the web sessions that
can no longer be used (idle or past their absolute end) and the password reset rows that
expired more than a day ago.

The schedule is one row of the ``setting`` table, ``web.prune_due``, holding the next due
instant; a worker claims a run with a compare-and-set on that value (the first run inserts
the row, and the primary key lets only one worker do that), so several workers prune once.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.models import Setting
from dutydesk.people import sessions
from dutydesk.worker import JobRun

DUE_KEY = "web.prune_due"
EVERY = timedelta(hours=1)
KEEP_RESETS = timedelta(days=1)  # a spent link still answers "used or expired" for a day


def _claim(session: Session, now: datetime) -> bool:
    """Move the due instant one period on if it has come; True when this worker did."""
    following = json.dumps((now + EVERY).isoformat())
    row = session.get(Setting, DUE_KEY)
    if row is None:
        try:
            with session.begin_nested():
                session.add(Setting(key=DUE_KEY, value=following, updated_at=now))
        except IntegrityError:  # another worker inserted it first: that one prunes
            return False
        return True
    seen = row.value
    try:
        due = datetime.fromisoformat(json.loads(seen))
    except (ValueError, TypeError):
        due = now  # an unreadable value: prune now and write a sound one
    if due > now:
        return False
    result = session.execute(
        update(Setting)
        .where(Setting.key == DUE_KEY, Setting.value == seen)
        .values(value=following, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def prune_due(db: Database, settings: Settings, now: datetime) -> JobRun:
    with db.unit_of_work() as session:
        if not _claim(session, now):
            return JobRun()
        sessions.prune(session, settings, now)
        sessions.prune_resets(session, now - KEEP_RESETS)
    return JobRun(done=1)
