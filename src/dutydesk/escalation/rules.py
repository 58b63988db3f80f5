"""Escalation rules, pure: which path and step apply, and when hierarchic levels are due.

Functional escalation (ITIL step 7) moves an incident along the steps of the escalation path
that matches it best: category and service, then category, then service, then a default
path naming neither (EP-<path>.<step>). A path's tiers never go down (L1 → L2 → L3 →
supplier); a step may escalate automatically when its group's OLA breaches.

Hierarchic escalation tells management: a level (for a priority and/or a group, or any)
is due at a percentage of the response or resolution clock, or after an amount of business
time on the resolution clock (HL-<level>); pauses postpone it because the clock stops. Each
level fires once per incident; levels found late fire once each, marked late.

Nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from dutydesk.sla.calendar import Calendar
from dutydesk.sla.policy import LATE_AFTER, Clock, instant_of

TIER_RANK = {"l1": 1, "l2": 2, "l3": 3, "supplier": 4}
MAX_PERCENT = 1000  # a level may fire long after the breach (e.g. 200 %)


class Trigger(StrEnum):
    percent = "percent"  # a percentage of the response or resolution clock
    delay = "delay"  # business seconds used on the resolution clock


class ClockKind(StrEnum):
    response = "response"
    resolution = "resolution"


# ----------------------------------------------------------------------------- functional


@dataclass(frozen=True)
class Step:
    path_id: int
    level: int
    group_id: int
    tier: str
    auto: bool = False
    group_active: bool = True

    @property
    def rule_id(self) -> str:
        return f"EP-{self.path_id}.{self.level}"


@dataclass(frozen=True)
class Path:
    id: int
    name: str
    category_id: int | None
    service_id: int | None
    steps: tuple[Step, ...]  # ordered by level


def specificity(path: Path) -> int:
    """Category and service (3) > category (2) > service (1) > neither (0)."""
    return 2 * (path.category_id is not None) + (path.service_id is not None)


def path_matches(
    path: Path, category_id: int | None, subcategory_id: int | None, service_id: int | None
) -> bool:
    """A path's category matches the incident's category or subcategory."""
    category_ok = path.category_id is None or path.category_id in (category_id, subcategory_id)
    return category_ok and path.service_id in (None, service_id) and bool(path.steps)


def best_path(
    paths: Iterable[Path],
    category_id: int | None,
    subcategory_id: int | None,
    service_id: int | None,
) -> Path | None:
    """The most specific matching path; among equals the oldest (lowest id)."""
    found = [p for p in paths if path_matches(p, category_id, subcategory_id, service_id)]
    return min(found, key=lambda p: (-specificity(p), p.id), default=None)


def step_of(path: Path, group_id: int | None) -> Step | None:
    return next((s for s in path.steps if s.group_id == group_id), None)


def next_step(path: Path, group_id: int | None, rank: int) -> Step | None:
    """The step after the current group's; a group not on the path (or no group) goes on at
    the first step of a tier above `rank`. Steps of inactive groups are passed over."""
    current = step_of(path, group_id) if group_id is not None else None
    if current is not None:
        later = [s for s in path.steps if s.level > current.level]
    else:
        later = [s for s in path.steps if TIER_RANK.get(s.tier, 0) > rank]
    return next((s for s in later if s.group_active), None)


def auto_next_step(path: Path, group_id: int | None) -> Step | None:
    """Where an OLA breach of `group_id` sends the incident: only from an `auto` step."""
    current = step_of(path, group_id)
    if current is None or not current.auto:
        return None
    return next_step(path, group_id, 0)


@dataclass(frozen=True)
class StepSpec:
    """A step as an admin wrote it, with what is known about its group (None: no such group)."""

    level: int
    group_id: int
    auto: bool
    tier: str | None
    group_active: bool | None


def step_problems(steps: Sequence[StepSpec]) -> list[dict[str, str]]:
    """Levels 1..n without gaps, existing active groups, each group once, tiers that never
    go down, and no `auto` on the last step; one entry per problem, naming the field."""
    errors: list[dict[str, str]] = []
    if not steps:
        return [{"field": "steps", "msg": "a path needs at least one step"}]
    levels = sorted(s.level for s in steps)
    if levels != list(range(1, len(steps) + 1)):
        for i, s in enumerate(steps):
            if s.level < 1 or s.level > len(steps) or levels.count(s.level) > 1:
                errors.append(
                    {
                        "field": f"steps.{i}.level",
                        "msg": f"levels must be 1..{len(steps)}, once each",
                    }
                )
    seen: dict[int, int] = {}
    for i, s in enumerate(steps):
        where = f"steps.{i}.group_id"
        if s.tier is None:
            errors.append({"field": where, "msg": "no such support group"})
        elif not s.group_active:
            errors.append({"field": where, "msg": "the support group is inactive"})
        if s.group_id in seen:
            errors.append({"field": where, "msg": f"the group is already step {seen[s.group_id]}"})
        seen.setdefault(s.group_id, s.level)
    ordered = sorted(enumerate(steps), key=lambda pair: pair[1].level)
    highest: StepSpec | None = None  # the highest tier of the levels below
    for i, step in ordered:
        if step.tier is None:
            continue
        if highest is not None and highest.tier and TIER_RANK[step.tier] < TIER_RANK[highest.tier]:
            errors.append(
                {
                    "field": f"steps.{i}.group_id",
                    "msg": f"tier {step.tier} is below the tier of step {highest.level} "
                    f"({highest.tier}); tiers never go down",
                }
            )
        elif highest is None or TIER_RANK[step.tier] > TIER_RANK[highest.tier or "l1"]:
            highest = step
    if ordered and ordered[-1][1].auto:
        errors.append(
            {"field": f"steps.{ordered[-1][0]}.auto", "msg": "the last step has no next step"}
        )
    return errors


# ----------------------------------------------------------------------------- hierarchic


@dataclass(frozen=True)
class Level:
    id: int
    name: str
    priority: int | None
    group_id: int | None
    trigger: Trigger
    clock: ClockKind | None  # percent levels
    percent: int | None
    delay_seconds: int | None
    notify_group_manager: bool = True
    notify_incident_managers: bool = False
    notify_user_ids: tuple[int, ...] = ()

    @property
    def rule_id(self) -> str:
        return f"HL-{self.id}"

    @property
    def clock_kind(self) -> ClockKind:
        """The clock the level watches: its own for percent levels, resolution for delays."""
        if self.trigger == Trigger.percent and self.clock is not None:
            return self.clock
        return ClockKind.resolution


Timed = tuple[Calendar, Clock]  # a clock with its calendar


def applies(level: Level, priority: int, group_id: int | None) -> bool:
    return level.priority in (None, priority) and level.group_id in (None, group_id)


def used_seconds(level: Level, clock: Clock) -> float:
    """Business seconds on the watched clock at which the level is due."""
    if level.trigger == Trigger.percent:
        return clock.target_seconds * (level.percent or 0) / 100
    return float(level.delay_seconds or 0)


def due_at(level: Level, clocks: Mapping[str, Timed]) -> datetime | None:
    """When the level is due; None while its clock is not running (paused, stopped, none)."""
    timed = clocks.get(level.clock_kind.value)
    if timed is None:
        return None
    cal, clock = timed
    return instant_of(cal, clock, used_seconds(level, clock))


def pending(
    levels: Iterable[Level],
    priority: int,
    group_id: int | None,
    fired: Iterable[int],
    clocks: Mapping[str, Timed],
) -> list[tuple[Level, datetime]]:
    """Levels that apply, have not fired, and have an instant; soonest first."""
    done = set(fired)
    found = []
    for level in levels:
        if level.id in done or not applies(level, priority, group_id):
            continue
        at = due_at(level, clocks)
        if at is not None:
            found.append((level, at))
    return sorted(found, key=lambda pair: (pair[1], pair[0].id))


def next_check_at(
    levels: Iterable[Level],
    priority: int,
    group_id: int | None,
    fired: Iterable[int],
    clocks: Mapping[str, Timed],
) -> datetime | None:
    """The incident's schedule: the instant the next level is due (None: nothing left)."""
    found = pending(levels, priority, group_id, fired, clocks)
    return found[0][1] if found else None


def due_now(
    levels: Iterable[Level],
    priority: int,
    group_id: int | None,
    fired: Iterable[int],
    clocks: Mapping[str, Timed],
    now: datetime,
) -> list[tuple[Level, datetime]]:
    """Every level due by `now`, in order; each fires once (late ones too, marked late)."""
    return [
        (lvl, at) for lvl, at in pending(levels, priority, group_id, fired, clocks) if at <= now
    ]


def is_late(at: datetime, now: datetime) -> bool:
    return now - at > LATE_AFTER


def raised_priority(priority: int) -> int | None:
    """One step up on a breach (P3 → P2); None when already P1."""
    return priority - 1 if priority > 1 else None
