"""SLA clock rules, pure: policy matching, and a clock's pause/resume/re-target/stop/fire.

A clock is kept as segments (see ``models/sla.py``): ``elapsed_before`` business seconds
were used before ``segment_start``; a running clock adds the business time of its calendar
since ``segment_start``. That makes every rule a small function of the stored values:

* pausing folds the running segment into ``elapsed_before`` (CLK-P);
* resuming starts a new segment now (CLK-R);
* a priority change keeps the business time already used and only changes the target
  (CLK-T): the new due time is the start of the current segment plus what is left;
* stopping folds the segment and freezes the clock (met, or breached if it already was);
* a reopen resumes a stopped resolution clock where it stopped (CLK-O): the time the
  incident spent resolved is not counted, so it neither restarts nor instantly breaches;
* the worker fires warnings and the breach when their instants pass (CLK-W, CLK-B); work
  found late fires once, only the most severe level crossed, marked late.

Business-time arithmetic lives in ``sla.business_time``; nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol, TypeVar

from dutydesk.sla.business_time import add_business_seconds, business_seconds_between
from dutydesk.sla.calendar import Calendar

LATE_AFTER = timedelta(seconds=60)  # fired this long after its instant: marked late


class Kind(StrEnum):
    response = "response"
    resolution = "resolution"
    ola = "ola"


class State(StrEnum):
    running = "running"
    paused = "paused"
    warning = "warning"
    breached = "breached"
    met = "met"
    cancelled = "cancelled"


# ----------------------------------------------------------------------------- policies


class Selector(Protocol):
    """What an SLA policy matches on; None matches anything."""

    @property
    def customer_id(self) -> int | None: ...
    @property
    def service_id(self) -> int | None: ...
    @property
    def priority(self) -> int | None: ...
    @property
    def id(self) -> int: ...


P = TypeVar("P", bound=Selector)


def specificity(policy: Selector) -> int:
    """Customer outweighs service outweighs priority (4 / 2 / 1)."""
    return (
        4 * (policy.customer_id is not None)
        + 2 * (policy.service_id is not None)
        + (policy.priority is not None)
    )


def matches(
    policy: Selector, customer_id: int | None, service_id: int | None, priority: int
) -> bool:
    return (
        policy.customer_id in (None, customer_id)
        and policy.service_id in (None, service_id)
        and policy.priority in (None, priority)
    )


def best_policy(
    policies: Iterable[P], customer_id: int | None, service_id: int | None, priority: int
) -> P | None:
    """The most specific matching policy; among equals the oldest (lowest id)."""
    found = [p for p in policies if matches(p, customer_id, service_id, priority)]
    return min(found, key=lambda p: (-specificity(p), p.id), default=None)


# ----------------------------------------------------------------------------- clocks


@dataclass(frozen=True)
class Clock:
    """The stored state of one clock, as plain values."""

    target_seconds: int
    warn_percents: tuple[int, ...]
    elapsed_before: float
    segment_start: datetime | None  # None: paused or stopped
    warned_percent: int = 0
    breached: bool = False
    stopped: bool = False
    cancelled: bool = False

    @property
    def running(self) -> bool:
        return self.segment_start is not None and not self.stopped


def start(target_seconds: int, warn_percents: Sequence[int], at: datetime) -> Clock:
    return Clock(
        target_seconds=target_seconds,
        warn_percents=tuple(sorted({p for p in warn_percents if 0 < p < 100})),
        elapsed_before=0.0,
        segment_start=at,
    )


def elapsed(cal: Calendar, clock: Clock, now: datetime) -> float:
    """Business seconds used so far (pauses and stopped time excluded)."""
    if clock.segment_start is None or clock.stopped:
        return clock.elapsed_before
    return clock.elapsed_before + business_seconds_between(cal, clock.segment_start, now)


def pause(cal: Calendar, clock: Clock, now: datetime) -> Clock:
    if not clock.running:
        return clock
    return replace(clock, elapsed_before=elapsed(cal, clock, now), segment_start=None)


def resume(clock: Clock, now: datetime) -> Clock:
    """Continue a paused clock, or a stopped one (a reopen): the used time is kept."""
    if clock.running or clock.cancelled:
        return clock
    return replace(clock, segment_start=now, stopped=False)


def stop(cal: Calendar, clock: Clock, now: datetime, *, cancelled: bool = False) -> Clock:
    if clock.stopped:
        return clock
    used = elapsed(cal, clock, now)
    return replace(
        clock,
        elapsed_before=used,
        segment_start=None,
        stopped=True,
        cancelled=cancelled,
        breached=clock.breached or (not cancelled and used >= clock.target_seconds),
    )


def retarget(clock: Clock, target_seconds: int, warn_percents: Sequence[int]) -> Clock:
    """A new target (priority or policy change); business time already used is kept."""
    warns = tuple(sorted({p for p in warn_percents if 0 < p < 100}))
    return replace(clock, target_seconds=target_seconds, warn_percents=warns)


def instant_of(cal: Calendar, clock: Clock, used: float) -> datetime | None:
    """When a running clock reaches `used` business seconds (None unless running)."""
    if not clock.running or clock.segment_start is None:
        return None
    return add_business_seconds(cal, clock.segment_start, max(0.0, used - clock.elapsed_before))


def due_at(cal: Calendar, clock: Clock) -> datetime | None:
    return instant_of(cal, clock, clock.target_seconds)


def _thresholds(clock: Clock) -> list[tuple[int, float]]:
    """(percent, business seconds) of the warnings still to fire, then the breach (100)."""
    marks = [(p, clock.target_seconds * p / 100) for p in clock.warn_percents]
    pending = [(p, s) for p, s in marks if p > clock.warned_percent]
    if not clock.breached:
        pending.append((100, float(clock.target_seconds)))
    return pending


def next_check_at(cal: Calendar, clock: Clock) -> datetime | None:
    """The next instant the worker must look at this clock; None when nothing is left."""
    pending = _thresholds(clock)
    if not clock.running or not pending:
        return None
    return instant_of(cal, clock, pending[0][1])


@dataclass(frozen=True)
class Firing:
    percent: int  # 100 = breach
    at: datetime  # when the threshold was crossed
    late: bool

    @property
    def is_breach(self) -> bool:
        return self.percent >= 100


def fire(cal: Calendar, clock: Clock, now: datetime) -> tuple[Clock, Firing | None]:
    """Fire the most severe threshold crossed by `now` (once); mark the lesser ones done."""
    if not clock.running:
        return clock, None
    used = elapsed(cal, clock, now)
    crossed = [(p, s) for p, s in _thresholds(clock) if used >= s]
    if not crossed:
        return clock, None
    percent, seconds = crossed[-1]
    at = instant_of(cal, clock, seconds) or now
    firing = Firing(percent=percent, at=at, late=now - at > LATE_AFTER)
    if percent >= 100:
        return replace(clock, breached=True, warned_percent=max(clock.warn_percents, default=0)), (
            firing
        )
    return replace(clock, warned_percent=percent), firing


@dataclass(frozen=True)
class View:
    """A clock as the API shows it."""

    target_seconds: int
    elapsed_seconds: float
    remaining_seconds: float
    percent: float
    due_at: datetime | None
    state: State


def view(cal: Calendar, clock: Clock, now: datetime) -> View:
    used = elapsed(cal, clock, now)
    remaining = clock.target_seconds - used
    percent = 100.0 * used / clock.target_seconds if clock.target_seconds else 100.0
    if clock.cancelled:
        state = State.cancelled
    elif clock.breached or remaining <= 0:
        state = State.breached
    elif clock.stopped:
        state = State.met
    elif not clock.running:
        state = State.paused
    elif clock.warn_percents and percent >= clock.warn_percents[0]:
        state = State.warning
    else:
        state = State.running
    return View(
        target_seconds=clock.target_seconds,
        elapsed_seconds=round(used, 3),
        remaining_seconds=round(remaining, 3),
        percent=round(percent, 1),
        due_at=due_at(cal, clock),
        state=state,
    )
