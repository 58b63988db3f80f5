"""Business-calendar arithmetic for SLA clocks, checked against a stepping reference (pure).

The reference below knows nothing of the implementation's caches, offset stretches or
prefix sums: it walks UTC time in fixed quanta, reads each instant's local wall clock with
zoneinfo and asks whether that wall time lies in an interval starting on its local date (or
in the after-midnight part of one starting the day before), where a date's intervals are its
open-day entry, else nothing on a holiday or closed day, else the weekly hours. Scenarios for
the comparison align every interval, instant and DST switch to the quantum, so counting
quanta is exact; the algebraic properties run at arbitrary second resolution instead.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dutydesk.sla.business_time import (
    add_business_seconds,
    business_seconds_between,
    is_business_time,
    next_business_instant,
)
from dutydesk.sla.calendar import MAX_CLOSED_SPAN, WEEKDAYS, Calendar, CalendarError, Interval
from dutydesk.sla.calendar_config import calendar_from_config, calendar_to_config

ZONES = ("Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "UTC")
QUANTUM = timedelta(minutes=30)  # every offset and DST switch of ZONES in 2019-2031 is aligned
Q_SECONDS = int(QUANTUM.total_seconds())
PER_DAY = 86_400 // Q_SECONDS
HOLIDAY_RULES: tuple[tuple[str, str | None] | None, ...] = (
    None,
    ("DE", "BY"),
    ("US", None),
    ("US", "NY"),
    ("AU", "NSW"),
    ("IN", None),
)
FIRST = datetime(2019, 6, 1, tzinfo=UTC)
LAST = datetime(2031, 6, 1, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
H = 3600


# ----------------------------------------------------------------------------- the reference


@functools.cache
def _holiday_table(country: str, subdivision: str | None) -> holidays.HolidayBase:
    return holidays.country_holidays(country, subdiv=subdivision)  # fills years lazily


class Reference:
    """Obviously-correct, slow: one wall-clock reading per quantum."""

    def __init__(self, cal: Calendar) -> None:
        self.cal = cal
        self.zone = ZoneInfo(cal.tz)
        self.open = dict(cal.open_days)
        self.holidays = (
            None
            if cal.holiday_country is None
            else _holiday_table(cal.holiday_country, cal.holiday_subdivision)
        )

    @functools.cached_property
    def _days(self) -> dict[date, tuple[Interval, ...]]:
        return {}

    def intervals_starting_on(self, day: date) -> tuple[Interval, ...]:
        found = self._days.get(day)
        if found is None:
            if day in self.open:
                found = self.open[day]
            elif day in self.cal.closed_days or (
                self.holidays is not None and day in self.holidays
            ):
                found = ()
            else:
                found = self.cal.weekly[day.weekday()]
            self._days[day] = found  # a memo, nothing more
        return found

    def is_business(self, instant: datetime) -> bool:
        local = instant.astimezone(self.zone)
        day, now = local.date(), local.time().replace(tzinfo=None, fold=0)
        for iv in self.intervals_starting_on(day):
            if iv.end > iv.start:
                if iv.start <= now < iv.end:
                    return True
            elif now >= iv.start:  # runs past midnight: the part before midnight
                return True
        for iv in self.intervals_starting_on(day - timedelta(days=1)):
            if iv.end <= iv.start and now < iv.end:  # yesterday's, after midnight
                return True
        return False

    def add(self, start: datetime, quanta: int, max_steps: int) -> datetime | None:
        """Earliest t with `quanta` business quanta in [start, t); None past max_steps."""
        t, left = start.astimezone(UTC), quanta  # UTC: aware + timedelta is wall-clock math
        for _ in range(max_steps):
            if left == 0:
                return t.astimezone(UTC)
            if self.is_business(t):
                left -= 1
            t += QUANTUM
        return t.astimezone(UTC) if left == 0 else None

    def between(
        self,
        start: datetime,
        end: datetime,
        pauses: Sequence[tuple[datetime, datetime | None]] = (),
    ) -> float:
        count, t, end = 0, start.astimezone(UTC), end.astimezone(UTC)
        spans = [
            (ps.astimezone(UTC), end if pe is None else pe.astimezone(UTC)) for ps, pe in pauses
        ]
        while t < end:
            paused = any(ps <= t < pe for ps, pe in spans)
            if not paused and self.is_business(t):
                count += 1
            t += QUANTUM
        return float(count * Q_SECONDS)

    def next_open(self, start: datetime, max_steps: int) -> datetime | None:
        t = start.astimezone(UTC)
        for _ in range(max_steps):
            if self.is_business(t):
                return t.astimezone(UTC)
            t += QUANTUM
        return None


def dst_transitions(
    zone_name: str, first_year: int = 2020, last_year: int = 2030
) -> list[datetime]:
    """Every UTC instant in the years where the zone's offset changes (found by scanning)."""
    zone = ZoneInfo(zone_name)

    def offset(t: datetime) -> timedelta | None:
        return t.astimezone(zone).utcoffset()

    found = []
    t = datetime(first_year, 1, 1, tzinfo=UTC)
    stop = datetime(last_year + 1, 1, 1, tzinfo=UTC)
    step = timedelta(hours=6)
    while t < stop:
        nxt = t + step
        if offset(nxt) != offset(t):
            lo, hi = t, nxt  # offset(lo) != offset(hi): bisect to the second
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) // 2
                mid = mid.replace(microsecond=0)
                if offset(mid) == offset(lo):
                    lo = mid
                else:
                    hi = mid
            found.append(hi)
        t = nxt
    return found


TRANSITIONS = {zone: dst_transitions(zone) for zone in ZONES}


def test_transition_scan_finds_two_a_year_where_there_is_dst() -> None:
    for zone in ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe"):
        assert len(TRANSITIONS[zone]) == 22, zone
    assert TRANSITIONS["Asia/Kolkata"] == [] and TRANSITIONS["UTC"] == []
    # exact to the second, and aligned to the quantum in all the years scenarios start in
    for zone in ZONES:
        for t in dst_transitions(zone, FIRST.year, LAST.year):
            assert (t - FIRST) % QUANTUM == timedelta(0), (zone, t)
    assert datetime(2026, 3, 29, 1, tzinfo=UTC) in TRANSITIONS["Europe/Berlin"]
    assert datetime(2026, 4, 4, 15, tzinfo=UTC) in TRANSITIONS["Australia/Lord_Howe"]


# ----------------------------------------------------------------------------- strategies


def _t(units: int, unit_seconds: int) -> time:
    seconds = units * unit_seconds % 86_400
    return time(seconds // 3600, seconds // 60 % 60, seconds % 60)


RawDay = list[tuple[int, int]]  # (start, length) in units; length == units per day: 24 h


def _accept(raw: Sequence[tuple[int, int]], spill: int) -> RawDay:
    """Keep the raw intervals (sorted by start) that do not overlap what came before."""
    kept: RawDay = []
    prev_end = spill
    for start, length in sorted(raw):
        if start >= prev_end:
            kept.append((start, start + length))
            prev_end = start + length
    return kept


def _spill(kept: RawDay, per_day: int) -> int:
    return max(0, kept[-1][1] - per_day) if kept else 0


def _to_intervals(kept: RawDay, unit_seconds: int) -> tuple[Interval, ...]:
    return tuple(Interval(_t(s, unit_seconds), _t(e, unit_seconds)) for s, e in kept)


def repair_weekly(raw: list[tuple[tuple[int, int], ...]], per_day: int) -> list[RawDay]:
    """Drop intervals until no day overlaps itself or the previous day's spill-over."""
    days: list[RawDay] = []
    spill = 0
    for i in range(7):
        kept = _accept(raw[i], spill)
        days.append(kept)
        spill = _spill(kept, per_day)
    monday_start = days[0][0][0] if days[0] else per_day
    if days[6] and _spill(days[6], per_day) > monday_start:
        days[6] = days[6][:-1]
    return days


PRESETS_H: list[tuple[tuple[float, float], ...]] = [  # (start, length) in hours
    (),
    ((8, 9),),  # 08:00-17:00
    ((8, 4), (13, 4)),  # 08:00-12:00, 13:00-17:00
    ((22, 8),),  # 22:00-06:00
    ((0, 24),),  # the whole day
    ((0, 6),),  # 00:00-06:00, across most DST switches
    ((1, 1.5), (2.5, 1)),  # 01:00-02:30, 02:30-03:30
]


@functools.cache
def day_pattern(seed: int, unit_seconds: int) -> tuple[tuple[int, int], ...]:
    """The working hours of one day, (start, length) in units, from a 16-bit seed.

    A third of the seeds give common shapes (0 = no hours, so shrinking empties days); the
    rest 1-3 random intervals, the last of which may run past midnight, or (one in ten) a
    24 h interval from anywhere. The repair above drops whatever overlaps.
    """
    per_day = 86_400 // unit_seconds
    if seed % 3 == 0:
        preset = PRESETS_H[seed // 3 % len(PRESETS_H)]
        return tuple(
            (int(s * 3600) // unit_seconds, int(n * 3600) // unit_seconds) for s, n in preset
        )
    rng = random.Random(seed)
    if rng.random() < 0.1:
        return ((rng.randrange(per_day), per_day),)
    count = rng.randint(1, 3)
    points = sorted(rng.sample(range(per_day + per_day // 2), 2 * count))
    return tuple(
        (points[i], points[i + 1] - points[i])
        for i in range(0, 2 * count, 2)
        if points[i] < per_day
    )


def extra_days(
    seed: int, anchor: date, weekly: list[RawDay], unit_seconds: int
) -> tuple[frozenset[date], dict[date, RawDay]]:
    """Closed days and open days (with hours) within two weeks of `anchor`, from a seed."""
    if seed == 0:
        return frozenset(), {}
    per_day = 86_400 // unit_seconds
    rng = random.Random(seed)
    closed = frozenset(
        anchor + timedelta(days=rng.randint(-2, 14)) for _ in range(rng.choice((0, 1, 2, 3, 4)))
    )
    open_dates = [
        anchor + timedelta(days=n)
        for n in sorted(rng.sample(range(-2, 13), rng.choice((0, 1, 1, 2, 3))))
    ]
    opened: dict[date, RawDay] = {}
    for day in open_dates:
        before, after = day - timedelta(days=1), day + timedelta(days=1)
        prev = opened.get(before, weekly[before.weekday()])
        kept = _accept(day_pattern(rng.randrange(1 << 16), unit_seconds), _spill(prev, per_day))
        if after not in open_dates and kept:
            nxt = weekly[after.weekday()]
            if nxt and _spill(kept, per_day) > nxt[0][0]:
                kept = kept[:-1]
        opened[day] = kept
    return closed, opened


ZONE_CHOICE = st.sampled_from(ZONES)
RULE_CHOICE = st.sampled_from(HOLIDAY_RULES)
WEEK_SEEDS = st.integers(0, (1 << 112) - 1)  # seven 16-bit day seeds in one draw
SEEDS = st.integers(0, (1 << 32) - 1)


@functools.cache
def start_strategy(zone: str, unit_seconds: int) -> st.SearchStrategy[datetime]:
    """Instants (UTC, multiples of the unit) in 2019-2031, often near a DST switch."""
    unit = timedelta(seconds=unit_seconds)
    anywhere = st.integers(0, (LAST - FIRST) // unit).map(lambda n: FIRST + n * unit)
    if not TRANSITIONS[zone]:
        return anywhere
    window = timedelta(days=3) // unit
    near = st.builds(
        lambda t, n: t + n * unit,
        st.sampled_from(TRANSITIONS[zone]),
        st.integers(-window, window // 3),
    )
    return st.one_of(anywhere, near)


@dataclasses.dataclass
class Scenario:
    cal: Calendar
    start: datetime  # aware, in the calendar's zone or UTC: what the functions get
    weekly_units: int  # nominal business units per week (weekly hours only)

    @property
    def utc(self) -> datetime:
        """The start in UTC, for arithmetic (in a local zone, + timedelta is wall-clock)."""
        return self.start.astimezone(UTC)


@st.composite
def scenarios(
    draw: st.DrawFn, unit_seconds: int = Q_SECONDS, weekly_hours: bool = False
) -> Scenario:
    """A random calendar and a start near it; with unit_seconds == Q_SECONDS, all aligned.

    Without weekly hours a calendar only opens on its few open days; weekly_hours=True
    rules that out (for properties that need business time to go on for ever).

    Few draws per scenario (hypothesis' per-draw cost dominated the run time otherwise):
    the weekly hours come from one big integer, closed and open days from one seed.
    """
    per_day = 86_400 // unit_seconds
    zone = draw(ZONE_CHOICE)
    start = draw(start_strategy(zone, unit_seconds))
    if draw(st.booleans()):
        start = start.astimezone(ZoneInfo(zone))  # the input's zone must not matter
    week = draw(WEEK_SEEDS)
    weekly = repair_weekly(
        [day_pattern(week >> (16 * i) & 0xFFFF, unit_seconds) for i in range(7)], per_day
    )
    rule = draw(RULE_CHOICE)
    anchor = start.astimezone(ZoneInfo(zone)).date()
    fallback = [(9 * 3600 // unit_seconds, 17 * 3600 // unit_seconds)]  # Wed 09:00-17:00
    if weekly_hours and not any(weekly):
        weekly[2] = fallback
    closed, opened = extra_days(draw(SEEDS), anchor, weekly, unit_seconds)
    if not any(weekly) and not any(opened.values()):
        weekly[2], opened = fallback, {}
    cal = Calendar(
        zone,
        tuple(_to_intervals(day, unit_seconds) for day in weekly),
        holiday_country=None if rule is None else rule[0],
        holiday_subdivision=None if rule is None else rule[1],
        closed_days=closed,
        open_days=tuple((d, _to_intervals(kept, unit_seconds)) for d, kept in opened.items()),
    )
    return Scenario(cal, start, sum(e - s for day in weekly for s, e in day))


ALIGNED = scenarios()
ANY_SECOND = scenarios(unit_seconds=1, weekly_hours=True)


def _limit(sc: Scenario, cap: int) -> int:
    """An amount (in units) the walk can reach within a few weeks; at least 1."""
    return max(1, min(cap, 2 * sc.weekly_units))


# ----------------------------------------------------------------------------- vs the reference


AMOUNTS = st.integers(0, (1 << 48) - 1)  # reduced modulo what a scenario can reach


def random_pauses(
    seed: int, start: datetime, span: int, unit: timedelta, zone: str
) -> list[tuple[datetime, datetime | None]]:
    """0-3 pauses around [start, start + span units): overlapping, sticking out, open-ended,
    some written in the calendar's zone."""
    if seed == 0:
        return []
    rng = random.Random(seed)
    day = timedelta(days=1) // unit
    pauses: list[tuple[datetime, datetime | None]] = []
    for _ in range(rng.randint(1, 3)):
        begin = start + rng.randint(-day, span + 4) * unit
        if rng.random() < 0.3:
            begin = begin.astimezone(ZoneInfo(zone))
        if rng.random() < 0.25:
            pauses.append((begin, None))
        else:
            pauses.append((begin, begin.astimezone(UTC) + rng.randint(0, 3 * day) * unit))
    return pauses


@settings(max_examples=2000, deadline=None, derandomize=True)
@given(sc=ALIGNED, raw=AMOUNTS)
def test_add_matches_reference(sc: Scenario, raw: int) -> None:
    ref = Reference(sc.cal)
    quanta = raw % (_limit(sc, 4 * PER_DAY) + 1)
    max_steps = 8 * 7 * PER_DAY
    expected = ref.add(sc.start, quanta, max_steps)
    seconds = quanta * Q_SECONDS
    if expected is None:  # an open-days-only calendar that ran out: at least not earlier
        horizon = sc.utc + max_steps * QUANTUM
        try:
            assert add_business_seconds(sc.cal, sc.start, seconds) > horizon
        except CalendarError as exc:
            assert "no business time" in str(exc)
        return
    got = add_business_seconds(sc.cal, sc.start, seconds)
    assert got == expected
    assert got.tzinfo is UTC
    assert business_seconds_between(sc.cal, sc.start, got) == seconds


@settings(max_examples=2000, deadline=None, derandomize=True)
@given(sc=ALIGNED, raw=AMOUNTS, pause_seed=SEEDS)
def test_between_with_pauses_matches_reference(sc: Scenario, raw: int, pause_seed: int) -> None:
    ref = Reference(sc.cal)
    span = raw % (4 * PER_DAY + 5) - 4  # a few negative spans: end before start
    end = sc.utc + span * QUANTUM
    pauses = random_pauses(pause_seed, sc.utc, span, QUANTUM, sc.cal.tz)
    got = business_seconds_between(sc.cal, sc.start, end, pauses)
    assert got == ref.between(sc.start, end, pauses)
    assert got == business_seconds_between(sc.cal, sc.start, end, list(reversed(pauses)))


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(sc=ALIGNED)
def test_is_business_time_and_next_opening_match_reference(sc: Scenario) -> None:
    ref = Reference(sc.cal)
    assert is_business_time(sc.cal, sc.start) == ref.is_business(sc.start)
    max_steps = 6 * 7 * PER_DAY
    expected = ref.next_open(sc.start, max_steps)
    if expected is None:
        try:
            assert next_business_instant(sc.cal, sc.start) > sc.utc + max_steps * QUANTUM
        except CalendarError as exc:
            assert "no business time" in str(exc)
        return
    got = next_business_instant(sc.cal, sc.start)
    assert got == expected and got.tzinfo is UTC
    assert is_business_time(sc.cal, got)
    if got > sc.start:
        assert not is_business_time(sc.cal, got - timedelta(microseconds=1))


# ----------------------------------------------------------------------------- algebra, any second


def _amount(sc: Scenario, raw: int, cap_days: int = 6) -> float:
    """A business amount at millisecond resolution that the walk reaches within weeks."""
    cap = min(cap_days * 86_400, 3 * max(sc.weekly_units, 1))
    return raw % (cap * 1000 + 1) / 1000  # the nearest float to the decimal, as µs / 1e6 is


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(sc=ANY_SECOND, raw=AMOUNTS)
def test_between_inverts_add(sc: Scenario, raw: int) -> None:
    seconds = _amount(sc, raw)
    got = add_business_seconds(sc.cal, sc.start, seconds)
    assert got >= sc.start
    assert business_seconds_between(sc.cal, sc.start, got) == seconds
    if seconds > 0:  # earliest: one microsecond less is not enough, and it ends in business time
        just_before = got - timedelta(microseconds=1)
        assert is_business_time(sc.cal, just_before)
        assert business_seconds_between(sc.cal, sc.start, just_before) < seconds
    else:
        assert got == sc.utc  # (a fold=1 local time never equals another zone's instant)


@settings(max_examples=1000, deadline=None, derandomize=True)
@given(sc=ANY_SECOND, raw_a=AMOUNTS, raw_b=AMOUNTS)
def test_add_is_additive(sc: Scenario, raw_a: int, raw_b: int) -> None:
    a, b = _amount(sc, raw_a, cap_days=3), _amount(sc, raw_b, cap_days=3)
    middle = add_business_seconds(sc.cal, sc.start, a)
    # Holds wherever `middle` lands: from the end of a stretch the clock resumes at the next
    # opening, exactly where the one-step walk goes on.
    assert add_business_seconds(sc.cal, middle, b) == add_business_seconds(sc.cal, sc.start, a + b)


@settings(max_examples=1000, deadline=None, derandomize=True)
@given(sc=ANY_SECOND, raw_a=AMOUNTS, raw_b=AMOUNTS, raw_later=AMOUNTS)
def test_monotone(sc: Scenario, raw_a: int, raw_b: int, raw_later: int) -> None:
    a, b = sorted((_amount(sc, raw_a, cap_days=3), _amount(sc, raw_b, cap_days=3)))
    later = sc.utc + timedelta(seconds=raw_later % (5 * 86_400 + 1))
    assert add_business_seconds(sc.cal, sc.start, a) <= add_business_seconds(sc.cal, sc.start, b)
    assert add_business_seconds(sc.cal, sc.start, a) <= add_business_seconds(sc.cal, later, a)
    short = business_seconds_between(sc.cal, sc.start, later)
    assert 0 <= short <= (later - sc.start).total_seconds()
    longer = business_seconds_between(sc.cal, sc.start, later + timedelta(hours=7))
    assert short <= longer <= short + 7 * H
    # splitting the range anywhere adds up
    middle = sc.utc + (later - sc.utc) * (raw_b % 1001 / 1000)
    assert business_seconds_between(sc.cal, sc.start, middle) + business_seconds_between(
        sc.cal, middle, later
    ) == pytest.approx(short, abs=1e-6)


@settings(max_examples=1000, deadline=None, derandomize=True)
@given(sc=ANY_SECOND, raw=AMOUNTS, pause_seed=SEEDS)
def test_pauses_only_reduce(sc: Scenario, raw: int, pause_seed: int) -> None:
    span = raw % (6 * 86_400 + 1)
    end = sc.utc + timedelta(seconds=span)
    pauses = random_pauses(pause_seed, sc.utc, span, timedelta(seconds=1), sc.cal.tz)
    full = business_seconds_between(sc.cal, sc.start, end)
    paused = business_seconds_between(sc.cal, sc.start, end, pauses)
    assert 0 <= paused <= full
    for n in range(len(pauses)):  # each extra pause only takes away
        assert business_seconds_between(sc.cal, sc.start, end, pauses[:n]) >= paused
    # the paused business time is the business time inside the pauses (clipped, merged)
    inside = sum(
        business_seconds_between(sc.cal, max(sc.utc, ps), min(end, pe))
        for ps, pe in _merged(pauses, end)
    )
    assert paused == pytest.approx(full - inside, abs=1e-6)
    assert business_seconds_between(sc.cal, sc.start, end, [(sc.start, None)]) == 0


def _merged(
    pauses: Sequence[tuple[datetime, datetime | None]], end: datetime
) -> list[tuple[datetime, datetime]]:
    spans = sorted(
        (ps.astimezone(UTC), end if pe is None else pe.astimezone(UTC)) for ps, pe in pauses
    )
    out: list[tuple[datetime, datetime]] = []
    for ps, pe in spans:
        if out and ps <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], pe))
        else:
            out.append((ps, pe))
    return out


@settings(max_examples=300, deadline=None, derandomize=True)
@given(sc=ANY_SECOND)
def test_config_round_trip(sc: Scenario) -> None:
    config = calendar_to_config(sc.cal)
    again = calendar_from_config(json.loads(json.dumps(config)))
    assert again == sc.cal and hash(again) == hash(sc.cal)


# ----------------------------------------------------------------------------- DST transitions


def _every_day(*ranges: str) -> tuple[tuple[Interval, ...], ...]:
    return (tuple(Interval.parse(r) for r in ranges),) * 7


DST_CALENDARS = {
    "night 22-06": _every_day("22:00-06:00"),
    "01:00-02:30 + 02:30-04:00": _every_day("01:00-02:30", "02:30-04:00"),
    "02:00-02:30 only": _every_day("02:00-02:30"),
    "24x7": _every_day("00:00-00:00"),
    "mon-fri 08-17": (_every_day("08:00-17:00")[0],) * 5 + ((), ()),
}


@pytest.mark.parametrize(
    ("zone", "transition"),
    [
        pytest.param(zone, t, id=f"{zone}-{t:%Y-%m-%dT%H:%M}")
        for zone in ZONES
        for t in TRANSITIONS[zone]
    ],
)
def test_every_dst_transition_2020_2030(zone: str, transition: datetime) -> None:
    for name, weekly in DST_CALENDARS.items():
        cal = Calendar(zone, weekly, holiday_country="DE" if "mon-fri" in name else None)
        ref = Reference(cal)
        for before in (3 * H, 5400, 1800, 0):
            start = transition - timedelta(seconds=before)
            for quanta in (1, 3, 7, 20):
                got = add_business_seconds(cal, start, quanta * Q_SECONDS)
                assert got == ref.add(start, quanta, 10_000), (name, before, quanta)
        around = (transition - timedelta(days=1), transition + timedelta(days=1))
        assert business_seconds_between(cal, *around) == ref.between(*around), name
        for n in range(-8, 8):
            t = transition + n * QUANTUM
            assert is_business_time(cal, t) == ref.is_business(t), (name, t)


def test_spring_forward_skips_and_fall_back_repeats_wall_clock_hours() -> None:
    night = Calendar("Europe/Berlin", _every_day("00:00-06:00"))
    day = timedelta(days=1)
    spring, fall = datetime(2026, 3, 29, tzinfo=BERLIN), datetime(2026, 10, 25, tzinfo=BERLIN)
    assert business_seconds_between(night, spring, spring + day) == 5 * H
    assert business_seconds_between(night, fall, fall + day) == 7 * H
    # the repeated 02:00-03:00 counts twice; a clock at 01:30 CEST with 2 h ends at 02:30 CET
    start = datetime(2026, 10, 25, 1, 30, tzinfo=BERLIN)
    assert add_business_seconds(night, start, 2 * H) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    # an interval lying wholly inside the skipped hour is never open that night
    gap = Calendar("Europe/Berlin", _every_day("02:00-02:45"))
    assert business_seconds_between(gap, spring, spring + day) == 0
    assert business_seconds_between(gap, fall, fall + day) == 2 * 45 * 60
    assert next_business_instant(gap, spring) == datetime(2026, 3, 30, 0, tzinfo=UTC)


def test_half_hour_zones() -> None:
    lord_howe = Calendar("Australia/Lord_Howe", _every_day("00:00-06:00"))
    # DST ends 2026-04-05 02:00 -> 01:30 (30 min twice), starts 2026-10-04 02:00 -> 02:30
    assert (
        business_seconds_between(
            lord_howe,
            datetime(2026, 4, 5, tzinfo=LORD_HOWE),
            datetime(2026, 4, 6, tzinfo=LORD_HOWE),
        )
        == 6.5 * H
    )
    assert (
        business_seconds_between(
            lord_howe,
            datetime(2026, 10, 4, tzinfo=LORD_HOWE),
            datetime(2026, 10, 5, tzinfo=LORD_HOWE),
        )
        == 5.5 * H
    )
    kolkata = Calendar("Asia/Kolkata", _every_day("09:30-18:00"))
    start = datetime(2026, 6, 1, 17, 0, tzinfo=KOLKATA)  # 11:30 UTC
    assert add_business_seconds(kolkata, start, 2 * H) == datetime(2026, 6, 2, 5, 0, tzinfo=UTC)


# ----------------------------------------------------------------------------- named cases


def berlin_office(**extra: Any) -> Calendar:
    """Europe/Berlin, Mon-Fri 08:00-17:00, Bavarian public holidays."""
    return Calendar(
        "Europe/Berlin",
        (_every_day("08:00-17:00")[0],) * 5 + ((), ()),
        holiday_country="DE",
        holiday_subdivision="BY",
        **extra,
    )


def test_pause_over_a_weekend_with_holidays() -> None:
    cal = berlin_office()
    # Easter 2026: Good Friday 3 April, Easter Monday 6 April
    start = datetime(2026, 4, 2, 15, tzinfo=BERLIN)
    end = datetime(2026, 4, 7, 12, tzinfo=BERLIN)
    assert business_seconds_between(cal, start, end) == 6 * H  # Thu 15-17, Tue 08-12
    pause = (datetime(2026, 4, 2, 16, tzinfo=BERLIN), datetime(2026, 4, 7, 10, tzinfo=BERLIN))
    assert business_seconds_between(cal, start, end, [pause]) == 3 * H  # Thu 15-16, Tue 10-12
    # still pending: an open-ended pause stops the clock up to `end`
    assert business_seconds_between(cal, start, end, [(pause[0], None)]) == 1 * H
    # overlapping pauses and pauses sticking out of the range count once
    pauses = [
        pause,
        (datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 4, 2, 15, 30, tzinfo=BERLIN)),
    ]
    assert business_seconds_between(cal, start, end, pauses) == 2.5 * H
    assert business_seconds_between(cal, end, start, [pause]) == 0


def test_night_shift_across_a_holiday() -> None:
    nights = Calendar(
        "Europe/Berlin",
        (_every_day("22:00-06:00")[0],) * 5 + ((), ()),
        holiday_country="DE",
        holiday_subdivision="BY",
    )
    # Thu 2 April 22:00 - Fri 06:00 belongs to Thursday: it runs although Good Friday is a holiday
    assert is_business_time(nights, datetime(2026, 4, 3, 5, tzinfo=BERLIN))
    # Good Friday's own shift and Easter Monday's are dropped as a whole
    assert not is_business_time(nights, datetime(2026, 4, 3, 23, tzinfo=BERLIN))
    assert not is_business_time(nights, datetime(2026, 4, 7, 1, tzinfo=BERLIN))
    start, end = datetime(2026, 4, 2, 20, tzinfo=BERLIN), datetime(2026, 4, 7, 12, tzinfo=BERLIN)
    assert business_seconds_between(nights, start, end) == 8 * H
    # 7 h left of Thursday's shift, then the next shift is Tuesday 22:00
    got = add_business_seconds(nights, datetime(2026, 4, 2, 23, tzinfo=BERLIN), 8 * H)
    assert got == datetime(2026, 4, 7, 23, tzinfo=BERLIN)
    assert next_business_instant(nights, datetime(2026, 4, 3, 7, tzinfo=BERLIN)) == datetime(
        2026, 4, 7, 22, tzinfo=BERLIN
    )


def test_four_hours_from_friday_16_with_monday_a_holiday() -> None:
    cal = berlin_office()
    start = datetime(2026, 5, 22, 16, tzinfo=BERLIN)  # Friday before Whit Monday (25 May)
    got = add_business_seconds(cal, start, 4 * H)
    assert got == datetime(2026, 5, 26, 11, tzinfo=BERLIN)  # Fri 16-17, Tue 08-11
    assert got == datetime(2026, 5, 26, 9, tzinfo=UTC) and got.tzinfo is UTC
    assert business_seconds_between(cal, start, got) == 4 * H


def test_thanksgiving_in_new_york() -> None:
    cal = calendar_from_config(
        {
            "timezone": "America/New_York",
            "hours": {day: ["09:00-17:00"] for day in WEEKDAYS[:5]},
            "holidays": {"country": "US", "subdivision": "NY"},
        }
    )
    start = datetime(2026, 11, 25, 15, tzinfo=NEW_YORK)  # Wednesday; Thursday is Thanksgiving
    assert add_business_seconds(cal, start, 10 * H) == datetime(2026, 11, 27, 22, tzinfo=UTC)


def test_extra_open_saturday_and_open_days_override_closures() -> None:
    saturday = date(2026, 11, 28)
    cal = berlin_office(
        open_days=(
            (saturday, (Interval(time(9), time(13)),)),
            (date(2026, 12, 24), (Interval(time(8), time(12)),)),  # closed below, opened here
            (date(2026, 12, 25), (Interval(time(10), time(11)),)),  # a public holiday
        ),
        closed_days=frozenset({date(2026, 12, 24), date(2026, 12, 28)}),
    )
    start = datetime(2026, 11, 27, 16, tzinfo=BERLIN)
    assert add_business_seconds(cal, start, 3 * H) == datetime(2026, 11, 28, 11, tzinfo=BERLIN)
    assert is_business_time(cal, datetime(2026, 11, 28, 12, 59, tzinfo=BERLIN))
    assert not is_business_time(cal, datetime(2026, 12, 5, 10, tzinfo=BERLIN))  # other Saturdays
    dec23 = datetime(2026, 12, 23, 8, tzinfo=BERLIN)
    # Wed 23: 9 h, Thu 24 (open day): 4 h, Fri 25 (open day): 1 h, Mon 28 closed, Tue 29: 9 h
    assert business_seconds_between(cal, dec23, dec23 + timedelta(days=7)) == 23 * H
    assert cal.hours_on(date(2026, 12, 28)) == () and cal.is_holiday(date(2026, 12, 25))


def test_open_days_only_calendar_runs_out() -> None:
    cal = Calendar(
        "UTC", ((),) * 7, open_days=((date(2026, 1, 10), (Interval(time(9), time(10)),)),)
    )
    start = datetime(2026, 1, 10, 9, 30, tzinfo=UTC)
    assert add_business_seconds(cal, start, 1800) == datetime(2026, 1, 10, 10, tzinfo=UTC)
    with pytest.raises(CalendarError, match="no business time for more than 1096 days"):
        add_business_seconds(cal, start, 1801)
    with pytest.raises(CalendarError, match="no business time"):
        next_business_instant(cal, start + timedelta(hours=1))
    assert timedelta(days=1096) == MAX_CLOSED_SPAN


def test_everything_closed_for_years_raises_but_long_amounts_terminate() -> None:
    mondays = Calendar(
        "Europe/Berlin",
        (_every_day("09:00-10:00")[0],) + ((),) * 6,
        closed_days=frozenset(date(2026, 1, 5) + timedelta(weeks=n) for n in range(4 * 53)),
    )
    with pytest.raises(CalendarError, match="no business time"):
        add_business_seconds(mondays, datetime(2026, 1, 1, tzinfo=UTC), 1)
    # years of business time on an ordinary calendar finish, and agree with the measure
    cal = berlin_office()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    got = add_business_seconds(cal, start, 5 * 250 * 9 * H)
    assert datetime(2030, 12, 1, tzinfo=UTC) < got < datetime(2031, 3, 1, tzinfo=UTC)
    assert business_seconds_between(cal, start, got) == 5 * 250 * 9 * H
    # near the end of what datetime can represent: a clear error, not an endless walk
    with pytest.raises(CalendarError, match="outside the dates datetime can represent"):
        add_business_seconds(cal, datetime(9999, 12, 20, tzinfo=UTC), 100 * H)
    with pytest.raises(CalendarError, match="outside the dates datetime can represent"):
        add_business_seconds(cal, start, 1e15)
    with pytest.raises(CalendarError, match="outside the dates datetime can represent"):
        next_business_instant(cal, datetime(9999, 12, 30, tzinfo=UTC))


def test_closed_days_only_calendar_is_refused() -> None:
    with pytest.raises(CalendarError, match="never open"):
        calendar_from_config(
            {"timezone": "Europe/Berlin", "hours": {}, "closed_days": ["2026-12-24"]}
        )
    with pytest.raises(CalendarError, match="never open"):
        Calendar("UTC", ((),) * 7, closed_days=frozenset({date(2026, 1, 1)}))
    with pytest.raises(CalendarError, match="never open"):  # open days without hours
        Calendar("UTC", ((),) * 7, open_days=((date(2026, 1, 1), ()),))


def test_edges_of_the_functions() -> None:
    cal = berlin_office()
    saturday = datetime(2026, 6, 6, 12, tzinfo=BERLIN)
    assert add_business_seconds(cal, saturday, 0) == saturday and (
        add_business_seconds(cal, saturday, 0).tzinfo is UTC
    )
    assert add_business_seconds(cal, saturday, 1) == datetime(2026, 6, 8, 6, 0, 1, tzinfo=UTC)
    assert add_business_seconds(cal, saturday, 0.000_001) == datetime(
        2026, 6, 8, 6, 0, 0, 1, tzinfo=UTC
    )
    assert not is_business_time(cal, saturday)
    assert next_business_instant(cal, saturday) == datetime(2026, 6, 8, 6, tzinfo=UTC)
    monday = datetime(2026, 6, 8, 9, 15, 7, 5, tzinfo=BERLIN)
    assert next_business_instant(cal, monday) == monday and is_business_time(cal, monday)
    assert not is_business_time(cal, datetime(2026, 6, 8, 17, tzinfo=BERLIN))  # ends exclusive
    assert is_business_time(cal, datetime(2026, 6, 8, 8, tzinfo=BERLIN))  # starts inclusive
    naive = datetime(2026, 6, 8, 9)
    for call in (
        lambda: add_business_seconds(cal, naive, 10),
        lambda: business_seconds_between(cal, naive, monday),
        lambda: business_seconds_between(cal, monday, naive),
        lambda: business_seconds_between(cal, saturday, monday, [(naive, None)]),
        lambda: is_business_time(cal, naive),
        lambda: next_business_instant(cal, naive),
    ):
        with pytest.raises(ValueError, match="timezone-aware"):
            call()
    for bad in (-1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="finite number >= 0"):
            add_business_seconds(cal, monday, bad)
    with pytest.raises(ValueError, match="before it starts"):
        business_seconds_between(cal, saturday, monday, [(monday, saturday)])
    # an open-ended pause starting after the end is simply outside the range
    assert business_seconds_between(
        cal, saturday, monday, [(monday, None)]
    ) == business_seconds_between(cal, saturday, monday)


def test_always_and_hashing() -> None:
    always = Calendar.always("Asia/Kolkata")
    start = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert add_business_seconds(always, start, 86_400 * 400) == start + timedelta(days=400)
    assert business_seconds_between(always, start, start + timedelta(hours=5)) == 5 * H
    shuffled = Calendar("UTC", (tuple(reversed(_every_day("08:00-12:00", "13:00-17:00")[0])),) * 7)
    assert shuffled == Calendar("UTC", _every_day("08:00-12:00", "13:00-17:00"))
    assert len({shuffled, Calendar("UTC", _every_day("13:00-17:00", "08:00-12:00"))}) == 1
    assert Calendar.always() != Calendar.always("Europe/Berlin")


# ---------------------------------------------------------------------- validation and config


def test_overlaps_are_refused_naming_the_day() -> None:
    with pytest.raises(CalendarError, match=r"overlapping working hours on tue: 08:00-12:00"):
        Calendar(
            "UTC",
            ((),) + ((Interval(time(8), time(12)), Interval(time(11), time(13))),) + ((),) * 5,
        )
    with pytest.raises(
        CalendarError,
        match=r"on mon: sun 22:00-06:00 \(runs until 06:00 the next day\) and 05:00-09:00",
    ):
        Calendar(
            "UTC", ((Interval(time(5), time(9)),),) + ((),) * 5 + ((Interval(time(22), time(6)),),)
        )
    with pytest.raises(
        CalendarError,
        match=r"on open day 2026-03-03 \(tue\): 2026-03-02 \(mon\) 22:00-06:00 \(runs until 06:00",
    ):
        Calendar(
            "UTC",
            _every_day("22:00-06:00"),
            open_days=((date(2026, 3, 3), (Interval(time(5), time(7)),)),),
        )
    with pytest.raises(
        CalendarError, match=r"on 2026-03-04 \(wed\): open day 2026-03-03 \(tue\) 20:00-09:00"
    ):
        Calendar(
            "UTC",
            _every_day("08:00-17:00"),
            open_days=((date(2026, 3, 3), (Interval(time(20), time(9)),)),),
        )
    with pytest.raises(CalendarError, match="unknown time zone 'Mars/Olympus'"):
        Calendar("Mars/Olympus", _every_day("08:00-17:00"))
    with pytest.raises(CalendarError, match="subdivision 'BY' given without a country"):
        Calendar("UTC", _every_day("08:00-17:00"), holiday_subdivision="BY")
    with pytest.raises(CalendarError, match="open day 2026-03-03 is listed twice"):
        Calendar("UTC", _every_day("08:00-17:00"), open_days=((date(2026, 3, 3), ()),) * 2)
    with pytest.raises(CalendarError, match="7 days"):
        Calendar("UTC", _every_day("08:00-17:00")[:5])
    with pytest.raises(ValueError, match="whole seconds"):
        Interval(time(8, 0, 0, 5), time(9))


def _config(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "timezone": "Europe/Berlin",
        "hours": {"mon": ["08:00-12:00", "13:00-17:00"], "tue": ["08:00-17:00"], "sun": []},
        "holidays": {"country": "DE", "subdivision": "BY"},
        "closed_days": ["2026-12-24"],
        "open_days": {"2026-12-27": ["09:00-13:00"]},
    }
    base.update(changes)
    return base


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"timezone": "Europe/Berln"}, "timezone: unknown time zone 'Europe/Berln'"),
        ({"timezone": 1}, "timezone: expected an IANA time zone name, got 1"),
        ({"holidays": {"country": "XX"}}, "holidays: unknown holiday country 'XX'"),
        (
            {"holidays": {"country": "DE", "subdivision": "ZZ"}},
            "holidays: unknown holiday subdivision 'ZZ' of DE",
        ),
        ({"holidays": {"country": "DE", "region": "BY"}}, "holidays: unknown key 'region'"),
        ({"hours": {"mon": ["8:00-12:00"]}}, "hours.mon\\[0\\]: '8:00-12:00' is not a time range"),
        ({"hours": {"mon": ["08:00-12:75"]}}, "minute 75 is out of range"),
        ({"hours": {"mon": ["25:00-26:00"]}}, "hour 25 is out of range"),
        ({"hours": {"mon": ["08:00"]}}, "hours.mon\\[0\\]: '08:00' is not a time range"),
        ({"hours": {"mon": ["24:00-08:00"]}}, "24:00 can only end a range"),
        ({"hours": {"mon": "08:00-17:00"}}, "hours.mon: expected a list"),
        ({"hours": {"monday": ["08:00-17:00"]}}, "hours: unknown weekday key 'monday'"),
        (
            {"hours": {"wed": ["08:00-12:00", "11:00-13:00"]}},
            "overlapping working hours on wed: 08:00-12:00 and 11:00-13:00",
        ),
        ({"hours": {}, "open_days": {}}, "never open"),
        ({"closed_days": ["2026-02-30"]}, "closed_days\\[0\\]: '2026-02-30' is not a date"),
        ({"closed_days": ["20261224"]}, "closed_days\\[0\\]: '20261224' is not a date"),
        ({"open_days": {"27.12.2026": ["09:00-13:00"]}}, "open_days: '27.12.2026' is not a date"),
        ({"open_days": {"2026-12-27": ["09-13"]}}, "open_days.2026-12-27\\[0\\]"),
        ({"tz": "UTC"}, "unknown key 'tz'"),
    ],
)
def test_config_errors_say_what_is_wrong(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        calendar_from_config(_config(**changes))


def test_config_missing_keys() -> None:
    config = _config()
    del config["timezone"]
    with pytest.raises(CalendarError, match="timezone: missing"):
        calendar_from_config(config)
    with pytest.raises(CalendarError, match="hours: missing"):
        calendar_from_config({"timezone": "UTC"})
    with pytest.raises(CalendarError, match=r"holidays\.country: missing"):
        calendar_from_config(_config(holidays={"subdivision": "BY"}))


def test_config_round_trip_and_shape() -> None:
    cal = calendar_from_config(_config())
    assert cal.weekly[0] == (Interval(time(8), time(12)), Interval(time(13), time(17)))
    assert cal.weekly[2] == () and cal.holiday_subdivision == "BY"
    assert cal.open_days == ((date(2026, 12, 27), (Interval(time(9), time(13)),)),)
    config = calendar_to_config(cal)
    assert list(config["hours"]) == list(WEEKDAYS)
    assert config["closed_days"] == ["2026-12-24"]
    assert calendar_from_config(config) == cal
    whole = calendar_from_config({"timezone": "UTC", "hours": {"sat": ["00:00-24:00"]}})
    assert calendar_to_config(whole)["hours"]["sat"] == ["00:00-00:00"]
    assert calendar_from_config(calendar_to_config(Calendar.always())) == Calendar.always()
    seconds = Calendar("UTC", _every_day("08:00:30-17:00"))
    assert calendar_to_config(seconds)["hours"]["mon"] == ["08:00:30-17:00"]
    assert calendar_from_config(calendar_to_config(seconds)) == seconds
