"""The pure escalation rules: path matching, next steps, path validation, level instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dutydesk.escalation import rules
from dutydesk.escalation.rules import ClockKind, Level, Path, Step, StepSpec, Trigger
from dutydesk.sla import policy as clocks
from dutydesk.sla.calendar_config import calendar_from_config

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = 3600
ALWAYS = calendar_from_config(
    {
        "timezone": "UTC",
        "hours": {d: ["00:00-00:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    }
)
OFFICE = calendar_from_config(
    {"timezone": "UTC", "hours": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}}
)

DESK, APPS, INFRA, VENDOR, OTHER_L2 = 1, 2, 3, 4, 5


def path(path_id: int, category: int | None, service: int | None, *groups: int) -> Path:
    tiers = {DESK: "l1", APPS: "l2", OTHER_L2: "l2", INFRA: "l3", VENDOR: "supplier"}
    steps = tuple(
        Step(path_id, level, group, tiers[group], auto=level == 1)
        for level, group in enumerate(groups, start=1)
    )
    return Path(path_id, f"path {path_id}", category, service, steps)


# ----------------------------------------------------------------------------- paths

PATHS = [
    path(1, None, None, DESK, APPS, INFRA),  # the default
    path(2, 10, None, DESK, OTHER_L2),  # category 10
    path(3, None, 20, DESK, INFRA),  # service 20
    path(4, 10, 20, DESK, VENDOR),  # category 10 and service 20
    path(5, 11, None, DESK, APPS),  # subcategory 11
]


@pytest.mark.parametrize(
    ("category", "subcategory", "service", "expected"),
    [
        (None, None, None, 1),
        (10, None, None, 2),
        (None, None, 20, 3),
        (10, None, 20, 4),  # category and service beat either alone
        (10, 11, 20, 4),
        (12, 11, None, 5),  # a path may name the subcategory
        (99, None, 99, 1),
    ],
)
def test_the_most_specific_path_wins(
    category: int | None, subcategory: int | None, service: int | None, expected: int
) -> None:
    found = rules.best_path(PATHS, category, subcategory, service)
    assert found is not None and found.id == expected


def test_no_path_without_a_default_and_ties_go_to_the_oldest() -> None:
    assert rules.best_path(PATHS[1:], None, None, None) is None
    twin = path(9, None, None, DESK, INFRA)
    found = rules.best_path([twin, PATHS[0]], None, None, None)
    assert found is not None and found.id == 1
    empty = Path(7, "empty", None, None, ())
    assert rules.best_path([empty], None, None, None) is None  # a path without steps


@pytest.mark.parametrize(
    ("group", "rank", "expected"),
    [
        (DESK, 1, APPS),  # on the path: the step after
        (APPS, 2, INFRA),
        (INFRA, 3, None),  # the end of the path
        (None, 1, APPS),  # unassigned at L1: the first step above L1
        (OTHER_L2, 2, INFRA),  # off the path: the first step above its tier
        (VENDOR, 4, None),
    ],
)
def test_next_step(group: int | None, rank: int, expected: int | None) -> None:
    found = rules.next_step(PATHS[0], group, rank)
    assert (found.group_id if found else None) == expected


def test_a_step_of_an_inactive_group_is_passed_over() -> None:
    steps = (
        Step(1, 1, DESK, "l1"),
        Step(1, 2, APPS, "l2", group_active=False),
        Step(1, 3, INFRA, "l3"),
    )
    found = rules.next_step(Path(1, "p", None, None, steps), DESK, 1)
    assert found is not None and (found.group_id, found.rule_id) == (INFRA, "EP-1.3")


def test_only_an_auto_step_escalates_on_its_ola_breach() -> None:
    default = PATHS[0]
    found = rules.auto_next_step(default, DESK)
    assert found is not None and found.group_id == APPS
    assert rules.auto_next_step(default, APPS) is None  # not auto
    assert rules.auto_next_step(default, VENDOR) is None  # not on the path


def spec(level: int, group: int, tier: str | None = "l1", *, auto: bool = False) -> StepSpec:
    return StepSpec(level, group, auto, tier, None if tier is None else group != 99)


@pytest.mark.parametrize(
    ("steps", "fields"),
    [
        ([spec(1, 1, "l1"), spec(2, 2, "l2", auto=False)], set()),
        ([spec(1, 1, "l1"), spec(2, 2, "l1")], set()),  # the same tier twice is fine
        ([], {"steps"}),
        ([spec(1, 1, "l1"), spec(3, 2, "l2")], {"steps.1.level"}),  # a gap
        ([spec(1, 1, "l1"), spec(1, 2, "l2")], {"steps.0.level", "steps.1.level"}),
        ([spec(1, 1, "l1"), spec(2, 7, None)], {"steps.1.group_id"}),  # no such group
        ([spec(1, 99, "l1")], {"steps.0.group_id"}),  # inactive group
        ([spec(1, 1, "l1"), spec(2, 1, "l1")], {"steps.1.group_id"}),  # the group twice
        ([spec(1, 1, "l3"), spec(2, 2, "l2")], {"steps.1.group_id"}),  # tiers go down
        ([spec(2, 1, "l2"), spec(1, 2, "l3")], {"steps.0.group_id"}),  # by level, not order
        ([spec(1, 1, "l1", auto=True)], {"steps.0.auto"}),  # auto on the last step
    ],
)
def test_step_problems_name_the_field(steps: list[StepSpec], fields: set[str]) -> None:
    assert {e["field"] for e in rules.step_problems(steps)} == fields


# ----------------------------------------------------------------------------- levels


def level(
    level_id: int,
    trigger: Trigger = Trigger.percent,
    *,
    percent: int | None = 50,
    clock: ClockKind | None = ClockKind.resolution,
    delay: int | None = None,
    priority: int | None = None,
    group: int | None = None,
) -> Level:
    return Level(level_id, f"L{level_id}", priority, group, trigger, clock, percent, delay)


def running(target: int, *, used: float = 0.0, start: datetime = T0) -> clocks.Clock:
    return clocks.Clock(target, (), elapsed_before=used, segment_start=start)


def test_percent_and_delay_levels_fall_on_business_time() -> None:
    both = {"response": (ALWAYS, running(4 * H)), "resolution": (ALWAYS, running(24 * H))}
    assert rules.due_at(level(1, percent=75), both) == T0 + timedelta(hours=18)
    response = level(2, percent=100, clock=ClockKind.response)
    assert rules.due_at(response, both) == T0 + timedelta(hours=4)
    late = level(3, percent=150)
    assert rules.due_at(late, both) == T0 + timedelta(hours=36)  # after the breach
    delay = level(4, Trigger.delay, percent=None, clock=None, delay=2 * H)
    assert rules.due_at(delay, both) == T0 + timedelta(hours=2)
    office = {"resolution": (OFFICE, running(8 * H, start=T0 + timedelta(hours=6)))}
    # 15:00 Monday + 4 business hours = 11:00 Tuesday (office hours 09:00-17:00).
    assert rules.due_at(level(5), office) == datetime(2026, 3, 3, 11, 0, tzinfo=UTC)


def test_a_paused_or_stopped_clock_has_no_instant() -> None:
    paused = clocks.Clock(24 * H, (), elapsed_before=H, segment_start=None)
    stopped = clocks.Clock(24 * H, (), elapsed_before=H, segment_start=None, stopped=True)
    assert rules.due_at(level(1), {"resolution": (ALWAYS, paused)}) is None
    assert rules.due_at(level(1), {"resolution": (ALWAYS, stopped)}) is None
    assert rules.due_at(level(1), {}) is None  # no such clock
    resumed = {"resolution": (ALWAYS, running(24 * H, used=2 * H, start=T0))}
    delay = level(2, Trigger.delay, percent=None, clock=None, delay=3 * H)
    assert rules.due_at(delay, resumed) == T0 + timedelta(hours=1)  # 2 h used before


def test_pending_levels_skip_fired_and_foreign_ones_soonest_first() -> None:
    timed = {"resolution": (ALWAYS, running(24 * H))}
    levels = [
        level(1, percent=75),
        level(2, percent=25),
        level(3, percent=10, priority=1),  # another priority
        level(4, percent=10, group=DESK),  # another group
        level(5, percent=50),
    ]
    found = rules.pending(levels, 3, APPS, {5}, timed)
    assert [(lvl.id, at) for lvl, at in found] == [
        (2, T0 + timedelta(hours=6)),
        (1, T0 + timedelta(hours=18)),
    ]
    assert rules.next_check_at(levels, 3, APPS, {5}, timed) == T0 + timedelta(hours=6)
    now = T0 + timedelta(hours=20)
    assert [lvl.id for lvl, _ in rules.due_now(levels, 3, APPS, set(), timed, now)] == [2, 5, 1]
    assert rules.next_check_at(levels, 3, APPS, {1, 2, 5}, timed) is None


def test_late_priority_and_rule_ids() -> None:
    assert not rules.is_late(T0, T0 + timedelta(seconds=60))
    assert rules.is_late(T0, T0 + timedelta(seconds=61))
    assert [rules.raised_priority(p) for p in (1, 2, 3, 5)] == [None, 1, 2, 4]
    assert level(7).rule_id == "HL-7"
    assert level(8, Trigger.delay, clock=ClockKind.response).clock_kind == ClockKind.resolution
