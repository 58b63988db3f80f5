"""SLA clocks of imported history, replayed from the imported timestamps (pure, no database).

An imported incident gets the response and resolution clocks the matching SLA policy would
have run, computed with the rules of ``sla.policy`` over the file's instants: the response
clock from ``opened_at`` to the first update out of New (``acknowledged_at``); the resolution
clock from ``opened_at``, paused while the audit log shows one of the policy's pause states,
stopped at each resolution (the final one at the file's ``resolved_at`` when it has one),
continued on a reopen (CLK-O), stopped as cancelled on cancellation. A clock the file does not
finish (the incident is still open in the file) is *held*: paused at the last update with no
schedule, so it is undecided for the KPIs until an agent touches the incident, when
``sla.service.sync_clocks`` resumes it. No imported clock has ``next_check_at``: the worker
never fires a warning, breach or notification for history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from dutydesk.sla import policy as rules
from dutydesk.sla.calendar import Calendar

RESOLVED = frozenset({"resolved", "closed"})


@dataclass(frozen=True)
class Target:
    """What the matching SLA policy asks (already chosen by customer × service × priority)."""

    policy_name: str
    calendar_id: int
    response_seconds: int | None
    resolution_seconds: int | None
    warn_percents: tuple[int, ...]
    pause_states: frozenset[str]


@dataclass(frozen=True)
class ImportedClock:
    kind: str
    target_seconds: int
    warn_percents: tuple[int, ...]
    started_at: datetime
    elapsed_before: float
    warned_percent: int
    breached_at: datetime | None
    stopped_at: datetime | None
    stop_reason: str | None  # responded | resolved | cancelled; None while held

    @property
    def decided(self) -> bool:
        """Counted by the SLA KPIs: breached, or stopped other than by cancellation."""
        return self.breached_at is not None or self.stop_reason in ("responded", "resolved")

    @property
    def met(self) -> bool:
        return self.decided and self.breached_at is None


class _Replay:
    """One clock run forward through the incident's instants with the pure rules."""

    def __init__(self, cal: Calendar, kind: str, target: int, warns: Sequence[int], at: datetime):
        self.cal, self.kind = cal, kind
        self.clock = rules.start(target, warns, at)
        self.started_at = at
        self.breached_at: datetime | None = None
        self.stopped_at: datetime | None = None
        self.reason: str | None = None

    def _note_breach(self, at: datetime) -> None:
        """The instant the target was reached, if it was by `at` (from the running segment)."""
        if (
            self.breached_at is None
            and self.clock.running
            and rules.elapsed(self.cal, self.clock, at) >= self.clock.target_seconds
        ):
            self.breached_at = rules.instant_of(self.cal, self.clock, self.clock.target_seconds)

    def stop(self, at: datetime, reason: str) -> None:
        if self.clock.stopped:
            return
        at = max(at, self.started_at)
        cancelled = reason == "cancelled"
        if not cancelled:
            self._note_breach(at)
        self.clock = rules.stop(self.cal, self.clock, at, cancelled=cancelled)
        self.stopped_at, self.reason = at, reason

    def follow(self, at: datetime, state: str, pauses: frozenset[str]) -> None:
        """sla.service._follow_state's rules, at an imported instant."""
        if state == "cancelled":
            self.stop(at, "cancelled")
        elif state in RESOLVED:
            self.stop(at, "resolved")
        else:
            if self.clock.stopped and not self.clock.cancelled:  # reopened (CLK-O)
                self.clock = rules.resume(self.clock, at)
                self.stopped_at = self.reason = None
            if state in pauses and self.clock.running:
                self._note_breach(at)
                self.clock = rules.pause(self.cal, self.clock, at)
            elif state not in pauses and not self.clock.running and not self.clock.stopped:
                self.clock = rules.resume(self.clock, at)

    def hold(self, at: datetime) -> None:
        """The file ends with the clock running: fold it at the last instant, no schedule."""
        if self.clock.running:
            self._note_breach(at)
            self.clock = rules.pause(self.cal, self.clock, max(at, self.started_at))

    def result(self) -> ImportedClock:
        c = self.clock
        used = c.elapsed_before
        breached = self.breached_at
        if breached is None and c.breached:  # the stop found it over target
            breached = self.stopped_at
        crossed = [p for p in c.warn_percents if used >= c.target_seconds * p / 100]
        return ImportedClock(
            kind=self.kind,
            target_seconds=c.target_seconds,
            warn_percents=c.warn_percents,
            started_at=self.started_at,
            elapsed_before=used,
            warned_percent=max(crossed, default=0),
            breached_at=breached,
            stopped_at=self.stopped_at,
            stop_reason=self.reason,
        )


def replay(
    cal: Calendar,
    target: Target,
    *,
    opened_at: datetime,
    acknowledged_at: datetime | None,
    resolved_at: datetime | None,
    timeline: Sequence[tuple[datetime, str]],
) -> list[ImportedClock]:
    """The clocks of one imported incident; `timeline` is (instant, state) per update, in
    order. The final resolution stops at `resolved_at` (the file's) when there is one."""
    clocks: list[ImportedClock] = []
    last_at = max([opened_at, *(at for at, _ in timeline)])
    final = timeline[-1][1] if timeline else "new"
    if target.response_seconds:
        response = _Replay(
            cal, "response", target.response_seconds, target.warn_percents, opened_at
        )
        if acknowledged_at is not None:
            response.stop(acknowledged_at, "responded")
        elif final == "cancelled":
            response.stop(timeline[-1][0], "cancelled")
        else:
            response.hold(last_at)
        clocks.append(response.result())
    if target.resolution_seconds:
        resolution = _Replay(
            cal, "resolution", target.resolution_seconds, target.warn_percents, opened_at
        )
        steps = list(timeline)
        if resolved_at is not None and final in RESOLVED:
            k = _final_resolution(steps)
            if k is not None and (k == 0 or resolved_at >= steps[k - 1][0]):
                steps[k] = (resolved_at, steps[k][1])
        for at, state in steps:
            resolution.follow(at, state, target.pause_states)
        resolution.hold(last_at)
        clocks.append(resolution.result())
    return clocks


def _final_resolution(steps: Sequence[tuple[datetime, str]]) -> int | None:
    """Index of the update that resolved the incident for the last time."""
    k = None
    for i, (_at, state) in enumerate(steps):
        if state in RESOLVED:
            if k is None:
                k = i
        else:
            k = None
    return k
