"""Business-time arithmetic on a :class:`~dutydesk.sla.calendar.Calendar` (pure: no database,
no I/O): what SLA clocks, escalations and auto-close deadlines compute. What counts as
business time is defined in :mod:`dutydesk.sla.calendar`.

Instants and amounts
    All datetimes must be timezone-aware (naive ones raise ``ValueError``); inputs may be in any
    zone, results are in UTC. Computation is exact in whole microseconds (the resolution of
    ``datetime``); an amount of seconds is rounded to the nearest microsecond.

``add_business_seconds(cal, start, seconds)``
    The earliest instant ``t >= start`` such that the business seconds in ``[start, t)`` equal
    ``seconds`` (``seconds >= 0``). ``seconds == 0`` returns ``start`` (in UTC) even outside
    business time; otherwise a clock started outside business time starts at the next
    opening, and the result is always inside business time or at the end of a stretch of it.
    When the walk meets :data:`MAX_CLOSED_SPAN` (about three years) without any business time,
    :class:`CalendarError` is raised instead of looping on; so it is when a result would lie
    beyond what ``datetime`` can represent.

``business_seconds_between(cal, start, end, pauses=())``
    The business seconds in ``[start, end)`` minus those of them inside the union of the pauses
    (pauses may overlap each other and stick out of ``[start, end)``; ``(t, None)`` runs to
    ``end``; a pause ending before it starts is a ``ValueError``). ``end <= start`` gives 0.

``is_business_time(cal, instant)``, ``next_business_instant(cal, instant)``
    Whether the instant belongs to business time; the instant itself (in UTC) when it does,
    else the start of the next stretch of business time (``CalendarError`` after
    :data:`MAX_CLOSED_SPAN` without any).

``add_business_days(cal, start, days)``
    The same local wall-clock time as ``start`` on the ``days``-th business day after it.

How it is computed
==================

Offsets: for each zone and UTC day, the stretches of constant UTC offset are found once
(offset sampled every hour, bisected to the second where it changes; cached per zone and day;
two offset changes less than an hour apart that cancel out would be missed). Per (calendar,
local date): the intervals starting on that date, as naive local microseconds, are mapped
back to UTC through those stretches (the preimage under the UTC -> wall-clock mapping, which
is where skipped hours vanish and repeated hours appear twice) — cached with
``functools.lru_cache``. Per (calendar, UTC week): the intervals of the dates that can reach
into the week, clipped, sorted, merged, with prefix sums — cached as well. The functions walk
whole weeks and bisect inside a week; they never step through minutes.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from dutydesk.sla.calendar import (
    _DAY,
    _EPOCH,
    _EPOCH_ORDINAL,
    _LAST_US,
    _MAX_CLOSED_US,
    _ONE_US,
    _US,
    _WEEK,
    MAX_CLOSED_SPAN,
    Calendar,
    CalendarError,
    _holidays_of_year,
    _offset_pieces,
    zone_info,
)

__all__ = [
    "add_business_days",
    "add_business_seconds",
    "business_seconds_between",
    "clear_caches",
    "is_business_time",
    "next_business_instant",
]


# ---------------------------------------------------------------------- cached UTC intervals


@functools.lru_cache(maxsize=1 << 16)
def _date_utc_intervals(cal: Calendar, day: date) -> tuple[tuple[int, int], ...]:
    """Business time of the intervals starting on local ``day``, as sorted UTC µs intervals."""
    intervals = cal.hours_on(day)
    if not intervals:
        return ()
    base = (day.toordinal() - _EPOCH_ORDINAL) * _DAY  # local midnight as naive local µs
    found: list[tuple[int, int]] = []
    for iv in intervals:
        start, end = iv.bounds_us()
        a, b = base + start, base + end
        # UTC u reads as local u + offset, |offset| < 24 h: only these UTC days can reach [a, b).
        for utc_day in range((a - _DAY) // _DAY, (b + _DAY) // _DAY + 1):
            for lo, hi, off in _offset_pieces(cal.tz, utc_day):
                s, e = max(lo, a - off), min(hi, b - off)
                if s < e:
                    found.append((s, e))
    return tuple(_merge(found))


def _merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    intervals.sort()
    merged: list[tuple[int, int]] = []
    for s, e in intervals:
        if merged and s <= merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


@dataclass(frozen=True, slots=True)
class _Week:
    """Business time inside one UTC week: disjoint sorted intervals and prefix sums."""

    starts: tuple[int, ...]
    ends: tuple[int, ...]
    cum: tuple[int, ...]  # cum[i] = business µs of intervals 0..i-1; len(cum) == len(starts)+1

    @property
    def total(self) -> int:
        return self.cum[-1]

    def before(self, x: int) -> int:
        """Business µs in this week before instant ``x``."""
        j = bisect.bisect_right(self.starts, x)
        if j == 0:
            return 0
        return self.cum[j - 1] + min(x, self.ends[j - 1]) - self.starts[j - 1]


@functools.lru_cache(maxsize=1 << 13)
def _week(cal: Calendar, index: int) -> _Week:
    lo = index * _WEEK
    hi = lo + _WEEK
    first = max(1, _EPOCH_ORDINAL + lo // _DAY - 3)
    last = min(date.max.toordinal(), _EPOCH_ORDINAL + (hi - 1) // _DAY + 1)
    found: list[tuple[int, int]] = []
    for ordinal in range(first, last + 1):
        for s, e in _date_utc_intervals(cal, date.fromordinal(ordinal)):
            s, e = max(s, lo), min(e, hi)
            if s < e:
                found.append((s, e))
    merged = _merge(found)
    cum = [0]
    for s, e in merged:
        cum.append(cum[-1] + e - s)
    return _Week(tuple(s for s, _ in merged), tuple(e for _, e in merged), tuple(cum))


def clear_caches() -> None:
    """Forget every cached interval (tests and benchmarks measuring cold starts)."""
    for cached in (_date_utc_intervals, _week, _offset_pieces, _holidays_of_year):
        cached.cache_clear()


# ----------------------------------------------------------------------------- the arithmetic


def _to_us(instant: datetime, name: str) -> int:
    if not isinstance(instant, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(instant).__name__}")
    if instant.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {instant.isoformat()}")
    return (instant - _EPOCH) // _ONE_US


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _closed_too_long(cal: Calendar, since: int) -> CalendarError:
    return CalendarError(
        f"calendar in {cal.tz} has no business time for more than {MAX_CLOSED_SPAN.days} days "
        f"after {_from_us(since).isoformat()}"
    )


def _out_of_range(what: str) -> CalendarError:
    return CalendarError(f"{what} runs outside the dates datetime can represent")


def _add_us(cal: Calendar, start: int, amount: int) -> int:
    index = start // _WEEK
    week = _week(cal, index)
    target = week.before(start) + amount
    seen = start  # the last instant known to be business time (or the start)
    if start + amount > _LAST_US:  # business time never runs faster than real time
        raise OverflowError
    while target > week.total:
        target -= week.total
        if week.total:
            seen = max(seen, week.ends[-1])
        index += 1
        if index * _WEEK > _LAST_US:
            raise OverflowError
        if index * _WEEK - seen > _MAX_CLOSED_US:
            raise _closed_too_long(cal, seen)
        week = _week(cal, index)
    i = bisect.bisect_left(week.cum, target)  # cum[i-1] < target <= cum[i]
    return week.starts[i - 1] + target - week.cum[i - 1]


def _between_us(cal: Calendar, start: int, end: int) -> int:
    if end <= start:
        return 0
    first, last = start // _WEEK, (end - 1) // _WEEK
    week = _week(cal, first)
    if first == last:
        return week.before(end) - week.before(start)
    total = week.total - week.before(start)
    for index in range(first + 1, last):
        total += _week(cal, index).total
    return total + _week(cal, last).before(end)


def _next_us(cal: Calendar, instant: int) -> int:
    index = instant // _WEEK
    at = instant
    while True:
        week = _week(cal, index)
        i = bisect.bisect_right(week.ends, at)  # the first interval ending after `at`
        if i < len(week.ends):
            return max(at, week.starts[i])
        index += 1
        at = index * _WEEK
        if at > _LAST_US:
            raise OverflowError
        if at - instant > _MAX_CLOSED_US:
            raise _closed_too_long(cal, instant)


def add_business_seconds(cal: Calendar, start: datetime, seconds: float) -> datetime:
    """The earliest instant t >= start with ``seconds`` business seconds in [start, t), in UTC."""
    if not seconds >= 0 or seconds == float("inf"):
        raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
    begin = _to_us(start, "start")
    amount = round(seconds * _US)
    if amount == 0:
        return start.astimezone(UTC)
    try:
        return _from_us(_add_us(cal, begin, amount))
    except OverflowError:
        raise _out_of_range("adding business time") from None


def business_seconds_between(
    cal: Calendar,
    start: datetime,
    end: datetime,
    pauses: Sequence[tuple[datetime, datetime | None]] = (),
) -> float:
    """Business seconds in [start, end) minus those inside any pause (``(t, None)`` = to end)."""
    lo, hi = _to_us(start, "start"), _to_us(end, "end")
    clipped: list[tuple[int, int]] = []
    for n, (p_start, p_end) in enumerate(pauses):
        ps = _to_us(p_start, f"pauses[{n}] start")
        if p_end is None:
            pe = hi
        else:
            pe = _to_us(p_end, f"pauses[{n}] end")
            if pe < ps:
                raise ValueError(
                    f"pauses[{n}] ends ({p_end.isoformat()}) before it starts "
                    f"({p_start.isoformat()})"
                )
        ps, pe = max(ps, lo), min(pe, hi)
        if ps < pe:
            clipped.append((ps, pe))
    if hi <= lo:
        return 0.0
    try:
        total = _between_us(cal, lo, hi)
        for ps, pe in _merge(clipped):
            total -= _between_us(cal, ps, pe)
    except OverflowError:
        raise _out_of_range("measuring business time") from None
    return total / _US


def is_business_time(cal: Calendar, instant: datetime) -> bool:
    """Whether ``instant`` belongs to the calendar's business time."""
    at = _to_us(instant, "instant")
    try:
        week = _week(cal, at // _WEEK)
    except OverflowError:
        raise _out_of_range("looking up business time") from None
    i = bisect.bisect_right(week.starts, at) - 1
    return i >= 0 and at < week.ends[i]


def next_business_instant(cal: Calendar, instant: datetime) -> datetime:
    """``instant`` (in UTC) when it is business time, else the next opening."""
    at = _to_us(instant, "instant")
    try:
        return _from_us(_next_us(cal, at))
    except OverflowError:
        raise _out_of_range("looking for the next opening") from None


def add_business_days(cal: Calendar, start: datetime, days: int) -> datetime:
    """The same local wall-clock time as ``start`` on the ``days``-th business day after it.

    A business day is a local date with working intervals starting on it (``hours_on``), so
    weekends, holidays and closed days are skipped. ``days == 0`` is ``start``. A wall-clock
    time the target date skips (spring forward) resolves as :mod:`zoneinfo` does (``fold=0``).
    Used for "close a resolved incident after N business days without an answer".
    """
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise ValueError(f"days must be an integer >= 0, got {days!r}")
    _to_us(start, "start")
    if days == 0:
        return start.astimezone(UTC)
    zone = zone_info(cal.tz)
    local = start.astimezone(zone)
    day, left = local.date(), days
    try:
        limit = day + MAX_CLOSED_SPAN + timedelta(days=days)
        while left:
            day += timedelta(days=1)
            if day > limit:
                raise CalendarError(
                    f"no {days} business days found after {local.date().isoformat()}: "
                    "the calendar is closed for too long"
                )
            if cal.hours_on(day):
                left -= 1
        target = datetime.combine(day, local.time().replace(tzinfo=None), tzinfo=zone)
        return target.astimezone(UTC)
    except OverflowError:
        raise _out_of_range("adding business days") from None
