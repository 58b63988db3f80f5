"""UTCDateTime: what it stores and what it gives back, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from dutydesk.kernel.types import UTCDateTime
from dutydesk.models import Setting

INSTANTS = [
    datetime(2026, 12, 7, 10, 0, 0, tzinfo=UTC),  # no microseconds: still six digits
    datetime(2026, 12, 7, 10, 0, 0, 1, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 59, 59, 999_999, tzinfo=ZoneInfo("Europe/Berlin")),
    datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Berlin")),
    datetime(1, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=-5))),
    datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(2026, 6, 1, 12, 30, tzinfo=timezone(timedelta(hours=5, minutes=45))),
]


def test_the_sqlite_text_is_the_dialects_own() -> None:
    """The one-step processor writes exactly what process_bind_param + SQLite's DATETIME
    wrote before it (stored rows must compare equal to new binds)."""
    dialect = sqlite.dialect()
    fast = UTCDateTime().bind_processor(dialect)
    plain = sqlite.DATETIME().bind_processor(dialect)
    assert fast is not None and plain is not None
    for instant in INSTANTS:
        assert fast(instant) == plain(UTCDateTime().process_bind_param(instant, dialect))
    assert fast(None) is None
    with pytest.raises(ValueError, match="naive"):
        fast(datetime(2026, 1, 1))


def test_instants_round_trip_and_compare(session: Session) -> None:
    stored = INSTANTS[1]
    row = Setting(key="t", value="x", updated_at=stored)
    session.add(row)
    session.flush()
    session.expire_all()
    got = session.scalar(select(Setting.updated_at).where(Setting.key == "t"))
    assert got == stored and got.tzinfo is not None and got.utcoffset() == timedelta(0)
    same = stored.astimezone(ZoneInfo("Asia/Tokyo"))  # the same instant in another zone
    assert session.scalar(select(Setting.key).where(Setting.updated_at == same)) == "t"
    mine = select(Setting.key).where(Setting.key == "t")
    assert session.scalar(mine.where(Setting.updated_at > INSTANTS[0])) == "t"
    assert session.scalar(mine.where(Setting.updated_at > stored)) is None
