"""SLA clocks replayed over imported instants (imports/clocks.py, pure): table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dutydesk.imports.clocks import ImportedClock, Target, replay
from dutydesk.sla.calendar_config import calendar_from_config

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS = calendar_from_config({"timezone": "UTC", "hours": {d: ["00:00-00:00"] for d in DAYS}})
OFFICE = calendar_from_config({"timezone": "UTC", "hours": {d: ["09:00-17:00"] for d in DAYS[:5]}})
T0 = datetime(2026, 3, 2, 10, tzinfo=UTC)  # a Monday, 10:00
H = 3600
TARGET = Target(
    policy_name="P3",
    calendar_id=1,
    response_seconds=4 * H,
    resolution_seconds=24 * H,
    warn_percents=(50, 75),
    pause_states=frozenset({"pending_user", "pending_vendor"}),
)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def run(
    steps: list[tuple[float, str]],
    *,
    ack: float | None = None,
    resolved: float | None = None,
    cal: object = ALWAYS,
) -> dict[str, ImportedClock]:
    clocks = replay(
        cal,  # type: ignore[arg-type]
        TARGET,
        opened_at=T0,
        acknowledged_at=None if ack is None else at(ack),
        resolved_at=None if resolved is None else at(resolved),
        timeline=[(at(h), s) for h, s in steps],
    )
    return {c.kind: c for c in clocks}


@pytest.mark.parametrize(
    ("steps", "ack", "used_h", "reason", "breached_h", "warned"),
    [
        # resolved within target: met, 50% warning crossed (13 h of 24)
        ([(0, "new"), (1, "in_progress"), (13, "resolved")], 1, 13, "resolved", None, 50),
        # two days of waiting for the user are not counted (CLK-P)
        (
            [(0, "new"), (1, "in_progress"), (2, "pending_user"), (50, "in_progress"),
             (60, "resolved")],
            1, 12, "resolved", None, 50,
        ),
        # over target: breached at the instant the 24 h were used, not when it stopped
        ([(0, "new"), (1, "in_progress"), (30, "closed")], 1, 30, "resolved", 24, 75),
        # breached while running, then paused: the breach instant is still found
        ([(0, "new"), (1, "in_progress"), (26, "pending_vendor"), (90, "resolved")], 1, 26,
         "resolved", 24, 75),
        # reopened: the time spent resolved is not counted (CLK-O)
        ([(0, "new"), (1, "in_progress"), (10, "resolved"), (40, "in_progress"),
          (45, "resolved")], 1, 15, "resolved", None, 50),
        # cancelled: stopped as cancelled, never decided
        ([(0, "new"), (3, "cancelled")], None, 3, "cancelled", None, 0),
        # still open when the file ends: held at the last update, no stop
        ([(0, "new"), (1, "in_progress"), (5, "in_progress")], 1, 5, None, None, 0),
        # still open and already over target: breached (decided) although held
        ([(0, "new"), (1, "in_progress"), (40, "in_progress")], 1, 40, None, 24, 75),
    ],
)  # fmt: skip
def test_resolution_clock(
    steps: list[tuple[float, str]],
    ack: float | None,
    used_h: float,
    reason: str | None,
    breached_h: float | None,
    warned: int,
) -> None:
    clock = run(steps, ack=ack)["resolution"]
    assert clock.elapsed_before == used_h * H
    assert clock.stop_reason == reason
    assert clock.breached_at == (None if breached_h is None else at(breached_h))
    assert clock.warned_percent == warned
    assert clock.stopped_at == (None if reason is None else at(steps[-1][0]))
    assert clock.decided == (reason == "resolved" or breached_h is not None)
    assert clock.met == (reason == "resolved" and breached_h is None)


@pytest.mark.parametrize(
    ("steps", "ack", "used_h", "reason", "met"),
    [
        ([(0, "new"), (1, "in_progress"), (3, "resolved")], 1, 1, "responded", True),
        ([(0, "new"), (5, "assigned"), (9, "resolved")], 5, 5, "responded", False),
        ([(0, "new"), (2, "cancelled")], None, 2, "cancelled", False),
        ([(0, "new"), (3, "new")], None, 3, None, False),  # held, undecided
    ],
)
def test_response_clock(
    steps: list[tuple[float, str]], ack: float | None, used_h: float, reason: str | None, met: bool
) -> None:
    clock = run(steps, ack=ack)["response"]
    assert (clock.elapsed_before, clock.stop_reason, clock.met) == (used_h * H, reason, met)
    assert clock.decided == (reason == "responded")


def test_the_files_resolved_at_stops_the_final_resolution() -> None:
    # a one-row-per-incident export: the row is the closure, resolved_at says when it resolved
    clock = run([(0, "new"), (1, "in_progress"), (30, "closed")], ack=1, resolved=20)
    assert clock["resolution"].elapsed_before == 20 * H
    assert clock["resolution"].met and clock["resolution"].stopped_at == at(20)


def test_business_hours_count_only_office_time() -> None:
    # Monday 10:00 → Tuesday 12:00 is 7 h Monday + 3 h Tuesday on a 09-17 calendar
    clock = run([(0, "new"), (0.5, "in_progress"), (26, "resolved")], ack=0.5, cal=OFFICE)
    assert clock["resolution"].elapsed_before == 10 * H
    assert clock["response"].elapsed_before == 0.5 * H


def test_a_policy_without_targets_runs_no_clock() -> None:
    none = Target("none", 1, None, None, (), frozenset())
    assert replay(ALWAYS, none, opened_at=T0, acknowledged_at=None, resolved_at=None,
                  timeline=[(T0, "new")]) == []  # fmt: skip
