"""add_business_days: "close after N business days" on a business calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dutydesk.sla.business_time import add_business_days
from dutydesk.sla.calendar import Calendar, CalendarError
from dutydesk.sla.calendar_config import calendar_from_config

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def office(tz: str = "Europe/Berlin", country: str | None = "DE", **extra: object) -> Calendar:
    config: dict[str, object] = {"timezone": tz, "hours": {d: ["09:00-17:00"] for d in WEEKDAYS}}
    if country:
        config["holidays"] = {"country": country}
    config.update(extra)
    return calendar_from_config(config)


def test_weekends_and_public_holidays_are_skipped() -> None:
    # Wed 23 Dec 2026 16:00 Berlin -> Thu 24 (1), Fri 25 + Sat 26 holidays/weekend,
    # Sun 27, Mon 28 (2), Tue 29 (3): Tue 29 Dec 16:00 Berlin.
    start = datetime(2026, 12, 23, 15, 0, tzinfo=UTC)
    assert add_business_days(office(), start, 3) == datetime(2026, 12, 29, 15, 0, tzinfo=UTC)


def test_zero_days_is_the_start_and_24x7_is_calendar_days() -> None:
    start = datetime(2026, 3, 27, 23, 30, tzinfo=UTC)
    assert add_business_days(office(), start, 0) == start
    assert add_business_days(Calendar.always(), start, 3) == start + timedelta(days=3)


def test_the_local_wall_clock_time_is_kept_across_a_dst_switch() -> None:
    # Friday 27 Mar 2026 10:00 CET (09:00 UTC); clocks go forward on Sunday 29 March.
    start = datetime(2026, 3, 27, 9, 0, tzinfo=UTC)
    due = add_business_days(office(), start, 1)  # Monday 30 March 10:00 CEST = 08:00 UTC
    assert due == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


def test_closed_days_and_extra_open_days_count() -> None:
    cal = office(
        closed_days=["2026-11-24"],
        open_days={"2026-11-28": ["10:00-14:00"]},
    )
    start = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # Monday
    # Tue 24 closed; Wed 25 (1), Thu 26 (2), Fri 27 (3), Sat 28 open (4)
    assert add_business_days(cal, start, 4) == datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_bad_arguments_are_refused() -> None:
    start = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    for days in (-1, 1.5, True):
        with pytest.raises(ValueError, match="days must be an integer"):
            add_business_days(office(), start, days)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        add_business_days(office(), datetime(2026, 11, 23, 12, 0), 1)  # naive


def test_a_calendar_closed_for_years_is_an_error() -> None:
    cal = office(
        closed_days=[(date(2027, 1, 1) + timedelta(days=i)).isoformat() for i in range(2000)]
    )
    with pytest.raises(CalendarError, match="closed for too long"):
        add_business_days(cal, datetime(2026, 12, 31, 12, 0, tzinfo=UTC), 1)


@settings(max_examples=300, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),
    days=st.integers(min_value=0, max_value=30),
    tz=st.sampled_from(
        ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
    ),
)
def test_exactly_n_business_dates_are_passed(start: datetime, days: int, tz: str) -> None:
    cal = office(tz=tz, country=None)
    due = add_business_days(cal, start, days)
    zone = ZoneInfo(tz)
    first, last = start.astimezone(zone).date(), due.astimezone(zone).date()
    passed = [
        first + timedelta(days=i)
        for i in range(1, (last - first).days + 1)
        if cal.hours_on(first + timedelta(days=i))
    ]
    assert len(passed) == days
    assert days == 0 or cal.hours_on(last)
    if days:  # the wall-clock time is kept unless the target date skips it (spring forward)
        kept = due.astimezone(zone).time().replace(tzinfo=None)
        wanted = start.astimezone(zone).time().replace(tzinfo=None)
        local = datetime.combine(last, wanted, tzinfo=zone)
        exists = local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == local.replace(
            tzinfo=None
        )
        if exists:
            assert kept == wanted
