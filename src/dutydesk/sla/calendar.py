"""Business calendars: working hours in a time zone, holidays, closed and open days (pure).

Semantics
=========

A :class:`Calendar` describes working time in one IANA time zone ``tz``.

Intervals
    ``weekly[0]`` … ``weekly[6]`` (Monday … Sunday) each hold working intervals in LOCAL WALL
    TIME. ``Interval(start, end)`` with ``end > start`` covers the wall-clock times
    ``start <= t < end`` of its day. With ``end <= start`` (``end == 00:00`` included) it runs
    past midnight: ``start <= t < 24:00`` on its day and ``00:00 <= t < end`` on the next
    calendar day. ``00:00-00:00`` is the whole day; in general ``end == start`` is 24 wall-clock
    hours. Times are whole seconds. An interval belongs to the day it STARTS on.

Open days and their intervals
    A date is *open* unless it is a public holiday (listed by
    ``holidays.country_holidays(holiday_country, subdiv=holiday_subdivision, years=date.year)``)
    or one of ``closed_days``. The intervals starting on a date are: its ``open_days`` entry when
    it has one (that overrides holidays, closed days and the weekly hours for that date; an
    entry without intervals closes the date); otherwise none when the date is not open;
    otherwise ``weekly[date.weekday()]``.

Business time
    The business time of a calendar is the set of REAL instants whose local wall-clock reading
    in ``tz`` — a local date ``D`` and a time of day ``t`` — lies either in an interval that
    starts on ``D`` (``t >= start``, and ``t < end`` unless the interval runs past midnight) or
    in the after-midnight part of a midnight-spanning interval that starts on ``D - 1 day``
    (``t < end``). Consequently:

    * the part after midnight of a Monday 22:00-06:00 interval is working time on Tuesday
      morning even when Tuesday is a holiday, and a holiday Monday drops the whole Monday
      22:00 - Tuesday 06:00 shift;
    * wall-clock times that do not exist (spring forward) are not business time: a
      00:00-06:00 night whose clocks jump from 02:00 to 03:00 has 5 business hours, and an
      interval lying wholly inside the skipped hour has none that night;
    * wall-clock times that happen twice (fall back) are business time both times: the same
      night with clocks going back from 03:00 to 02:00 has 7 business hours;
    * 30-minute DST shifts (Australia/Lord_Howe), half-hour and odd offsets (Asia/Kolkata)
      follow from the same definition; nothing assumes whole hours;
    * business time is a set, so nothing is ever counted twice. Overlapping intervals are
      refused anyway (:class:`CalendarError` naming the day), counting the previous day's
      midnight spill-over. For ``open_days`` the check is conservative: an open day's
      intervals are checked against the spill-over of the previous date's own intervals (its
      ``open_days`` entry, else its weekly hours) and its own spill-over against the next
      date's, whether or not that neighbour is a holiday or a closed day.

The arithmetic on business time (adding business seconds, measuring them, the next
opening, business days) is in :mod:`dutydesk.sla.business_time`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "MAX_CLOSED_SPAN",
    "WEEKDAYS",
    "Calendar",
    "CalendarError",
    "Interval",
    "check_holidays",
    "zone_info",
]

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_CLOSED_SPAN = timedelta(days=3 * 365 + 1)
"""A walk that finds no business time for this long raises CalendarError."""

_US = 1_000_000  # microseconds per second
_DAY = 86_400 * _US
_WEEK = 7 * _DAY
_HOUR = 3_600 * _US
_ONE_US = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MAX_CLOSED_US = MAX_CLOSED_SPAN // _ONE_US
_LAST_US = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // _ONE_US  # the last representable µs


class CalendarError(ValueError):
    """A calendar that cannot be built or used; the message says exactly what is wrong."""


# ----------------------------------------------------------------------------- intervals


def _format_time(t: time) -> str:
    return f"{t:%H:%M:%S}" if t.second else f"{t:%H:%M}"


def _time_us(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * _US


@dataclass(frozen=True, slots=True)
class Interval:
    """Working time in local wall-clock time; ``end <= start`` runs past midnight."""

    start: time
    end: time

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, time):
                raise CalendarError(f"interval {name} must be a datetime.time, got {value!r}")
            if value.tzinfo is not None:
                raise CalendarError(
                    f"interval {name} {value} must be a wall-clock time without tzinfo"
                )
            if value.microsecond:
                raise CalendarError(f"interval {name} {value} must be whole seconds")
            if value.fold:
                object.__setattr__(self, name, value.replace(fold=0))

    @classmethod
    def parse(cls, text: str) -> Interval:
        """``"HH:MM-HH:MM"`` (``":SS"`` allowed; ``24:00`` only as an end, = ``00:00``)."""
        if not isinstance(text, str):
            raise CalendarError(f'{text!r} is not a string "HH:MM-HH:MM"')
        parts = text.split("-")
        if len(parts) != 2:
            raise CalendarError(f'{text!r} is not a time range "HH:MM-HH:MM"')
        start = _parse_time(parts[0].strip(), text, is_end=False)
        end = _parse_time(parts[1].strip(), text, is_end=True)
        return cls(start, end)

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    @property
    def seconds(self) -> int:
        """Nominal length in wall-clock seconds (DST switches inside it aside)."""
        start, end = self.bounds_us()
        return (end - start) // _US

    def bounds_us(self) -> tuple[int, int]:
        """(start, end) in microseconds after the local midnight that starts its day."""
        start, end = _time_us(self.start), _time_us(self.end)
        return (start, end + _DAY) if end <= start else (start, end)

    def __str__(self) -> str:
        return f"{_format_time(self.start)}-{_format_time(self.end)}"


def _parse_time(part: str, text: str, *, is_end: bool) -> time:
    fields = part.split(":")
    bad = f'{text!r} is not a time range "HH:MM-HH:MM"'
    if len(fields) not in (2, 3) or not all(
        len(f) == 2 and f.isascii() and f.isdigit() for f in fields
    ):
        raise CalendarError(f"{bad}: {part!r} is not HH:MM")
    hour, minute = int(fields[0]), int(fields[1])
    second = int(fields[2]) if len(fields) == 3 else 0
    if hour == 24 and minute == 0 and second == 0:
        if is_end:
            return time(0)
        raise CalendarError(f"{bad}: 24:00 can only end a range")
    if hour > 23:
        raise CalendarError(f"{bad}: hour {hour} is out of range 00-23")
    if minute > 59:
        raise CalendarError(f"{bad}: minute {minute} is out of range 00-59")
    if second > 59:
        raise CalendarError(f"{bad}: second {second} is out of range 00-59")
    return time(hour, minute, second)


def _coerce_intervals(value: Iterable[Interval], where: str) -> tuple[Interval, ...]:
    try:
        items = tuple(value)
    except TypeError:
        raise CalendarError(f"{where}: expected a sequence of Interval, got {value!r}") from None
    for item in items:
        if not isinstance(item, Interval):
            raise CalendarError(f"{where}: {item!r} is not an Interval")
    return tuple(sorted(items, key=lambda iv: iv.start))


def _spill_us(intervals: tuple[Interval, ...]) -> tuple[int, Interval | None]:
    """How far past midnight the intervals of one day run (µs into the next day)."""
    best: tuple[int, Interval | None] = (0, None)
    for iv in intervals:
        end = iv.bounds_us()[1] - _DAY
        if end > best[0]:
            best = (end, iv)
    return best


def _check_day(
    label: str,
    intervals: tuple[Interval, ...],
    spill: tuple[int, Interval | None],
    spill_label: str,
) -> None:
    """Intervals sorted by start must not overlap each other nor the previous day's spill."""
    prev_end, prev_iv = spill  # prev_end == 0 when nothing spills over
    prev_desc = f"{spill_label} {prev_iv} (runs until {_fmt_us(prev_end)} the next day)"
    for iv in intervals:
        start, end = iv.bounds_us()
        if start < prev_end:
            raise CalendarError(f"overlapping working hours on {label}: {prev_desc} and {iv}")
        prev_end, prev_desc = end, str(iv)


def _day_label(day: date) -> str:
    return f"{day.isoformat()} ({WEEKDAYS[day.weekday()]})"


def _fmt_us(us: int) -> str:
    seconds = us // _US
    return _format_time(time(seconds // 3600, seconds // 60 % 60, seconds % 60))


# ------------------------------------------------------------------- time zones and holidays


@functools.lru_cache(maxsize=256)
def zone_info(tz: str) -> ZoneInfo:
    if not isinstance(tz, str):
        raise CalendarError(f"time zone must be a string, got {tz!r}")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CalendarError(
            f"unknown time zone {tz!r} (expected an IANA name such as 'Europe/Berlin')"
        ) from None


@functools.lru_cache(maxsize=256)
def check_holidays(country: str, subdivision: str | None) -> None:
    # cycle: none; deferred: the holidays library loads for the first calendar that names a
    # country, not with every process (~70 ms of start-up)
    import holidays

    supported = holidays.list_supported_countries()
    if not isinstance(country, str) or country not in supported:
        raise CalendarError(
            f"unknown holiday country {country!r} for the holidays library "
            "(expected an ISO 3166-1 alpha-2 code such as 'DE')"
        )
    if subdivision is not None and subdivision not in supported[country]:
        known = ", ".join(supported[country]) or "none"
        raise CalendarError(
            f"unknown holiday subdivision {subdivision!r} of {country} for the holidays library "
            f"(known: {known})"
        )
    try:
        holidays.country_holidays(country, subdiv=subdivision)
    except NotImplementedError as exc:  # pragma: no cover - list and library disagree
        raise CalendarError(f"holidays library refused {country}/{subdivision}: {exc}") from None


@functools.lru_cache(maxsize=4096)
def _holidays_of_year(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    import holidays  # cycle: none; deferred: see check_holidays

    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year).keys())


@functools.lru_cache(maxsize=1 << 16)
def _offset_pieces(tz: str, day: int) -> tuple[tuple[int, int, int], ...]:
    """Constant-offset stretches of UTC day ``day``: (start µs, end µs, UTC offset µs)."""
    zone = zone_info(tz)
    lo = day * _DAY
    hi = lo + _DAY
    pieces: list[tuple[int, int, int]] = []
    cur, cur_off = lo, _offset(zone, lo)
    prev = lo
    for sample in range(lo + _HOUR, hi + 1, _HOUR):
        off = _offset(zone, sample)
        while off != cur_off:  # the offset changes in (prev, sample]: find where, to the second
            a, b = prev, sample
            while b - a > _US:
                mid = a + (b - a) // (2 * _US) * _US
                if _offset(zone, mid) == cur_off:
                    a = mid
                else:
                    b = mid
            pieces.append((cur, b, cur_off))
            cur, cur_off, prev = b, _offset(zone, b), b
        prev = sample
    if cur < hi:
        pieces.append((cur, hi, cur_off))
    return tuple(pieces)


def _offset(zone: ZoneInfo, utc_us: int) -> int:
    offset = (_EPOCH + timedelta(microseconds=utc_us)).astimezone(zone).utcoffset()
    assert offset is not None
    return offset // _ONE_US


# ----------------------------------------------------------------------------- the calendar


@dataclass(frozen=True)
class Calendar:
    """Working hours per weekday in ``tz``, public holidays, closures and extra open days.

    Frozen and hashable (tuples and frozensets only) so it can key caches. Interval tuples are
    stored sorted by start and ``open_days`` sorted by date, so equal calendars compare equal.
    """

    tz: str
    weekly: tuple[tuple[Interval, ...], ...]
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    closed_days: frozenset[date] = frozenset()
    open_days: tuple[tuple[date, tuple[Interval, ...]], ...] = ()
    _hash: int = field(default=0, init=False, repr=False, compare=False)
    _open: Mapping[date, tuple[Interval, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not isinstance(self.tz, str):
            raise CalendarError(f"time zone must be a string, got {self.tz!r}")
        zone_info(self.tz)
        weekly = tuple(self.weekly)
        if len(weekly) != 7:
            raise CalendarError(f"weekly must hold 7 days (Monday first), got {len(weekly)}")
        weekly = tuple(_coerce_intervals(day, WEEKDAYS[i]) for i, day in enumerate(weekly))
        object.__setattr__(self, "weekly", weekly)

        for name in ("holiday_country", "holiday_subdivision"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise CalendarError(f"{name} must be a string or None, got {value!r}")
        if self.holiday_country is None:
            if self.holiday_subdivision is not None:
                raise CalendarError(
                    f"holiday subdivision {self.holiday_subdivision!r} given without a country"
                )
        else:
            check_holidays(self.holiday_country, self.holiday_subdivision)

        closed = frozenset(self.closed_days)
        for day in closed:
            if not isinstance(day, date) or isinstance(day, datetime):
                raise CalendarError(f"closed day {day!r} is not a datetime.date")
        object.__setattr__(self, "closed_days", closed)

        opened: dict[date, tuple[Interval, ...]] = {}
        for entry in self.open_days:
            try:
                day, intervals = entry
            except (TypeError, ValueError):
                raise CalendarError(f"open day {entry!r} is not a (date, intervals) pair") from None
            if not isinstance(day, date) or isinstance(day, datetime):
                raise CalendarError(f"open day {day!r} is not a datetime.date")
            if day in opened:
                raise CalendarError(f"open day {day.isoformat()} is listed twice")
            opened[day] = _coerce_intervals(intervals, f"open day {day.isoformat()}")
        object.__setattr__(self, "open_days", tuple(sorted(opened.items())))
        object.__setattr__(self, "_open", opened)

        for i, day_intervals in enumerate(weekly):
            _check_day(WEEKDAYS[i], day_intervals, _spill_us(weekly[i - 1]), WEEKDAYS[i - 1])
        for day, day_intervals in opened.items():
            if day in (date.min, date.max):
                raise CalendarError(f"open day {day.isoformat()} is out of range")
            before, after = day - timedelta(days=1), day + timedelta(days=1)
            label = f"open day {_day_label(day)}"
            prev = opened.get(before, weekly[before.weekday()])
            _check_day(label, day_intervals, _spill_us(prev), _day_label(before))
            if after not in opened:
                _check_day(
                    _day_label(after), weekly[after.weekday()], _spill_us(day_intervals), label
                )

        if not any(weekly) and not any(opened.values()):
            raise CalendarError(
                "the calendar is never open: no working hours on any weekday and no open days "
                "with working hours, so business time could never be added"
            )
        object.__setattr__(
            self,
            "_hash",
            hash(
                (
                    self.tz,
                    self.weekly,
                    self.holiday_country,
                    self.holiday_subdivision,
                    self.closed_days,
                    self.open_days,
                )
            ),
        )

    def __hash__(self) -> int:
        return self._hash

    @classmethod
    def always(cls, tz: str = "UTC") -> Calendar:
        """24 x 7: every instant is business time."""
        whole_day = (Interval(time(0), time(0)),)
        return cls(tz, (whole_day,) * 7)

    def is_holiday(self, day: date) -> bool:
        """A public holiday of ``holiday_country``/``holiday_subdivision`` (False without)."""
        if self.holiday_country is None:
            return False
        return day in _holidays_of_year(self.holiday_country, self.holiday_subdivision, day.year)

    def hours_on(self, day: date) -> tuple[Interval, ...]:
        """The intervals starting on ``day`` (open day entry > holiday/closed day > weekly)."""
        opened = self._open.get(day)
        if opened is not None:
            return opened
        if day in self.closed_days or self.is_holiday(day):
            return ()
        return self.weekly[day.weekday()]
