"""Assignment within a group (pure): who gets the next incident under each strategy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum


class Strategy(StrEnum):
    manual = "manual"
    round_robin = "round_robin"
    least_loaded = "least_loaded"


# Open incidents weigh by priority when counting a member's load: a P1 counts five P5s.
PRIORITY_WEIGHT = {1: 5, 2: 4, 3: 3, 4: 2, 5: 1}


@dataclass(frozen=True)
class Pick:
    user_id: int | None
    reason: str


def weight(priority: int) -> int:
    return PRIORITY_WEIGHT.get(priority, 1)


def round_robin(available: Sequence[int], last_user_id: int | None) -> Pick:
    """The next available member after the last one picked, in user-id order, wrapping."""
    if not available:
        return Pick(None, "round robin: no member of the group is available")
    ordered = sorted(available)
    after = [u for u in ordered if last_user_id is not None and u > last_user_id]
    chosen = after[0] if after else ordered[0]
    return Pick(chosen, f"round robin: next available member after #{last_user_id or '-'}")


def least_loaded(loads: Mapping[int, tuple[int, int]]) -> Pick:
    """`loads`: available member → (weighted open incidents, open incidents). The lightest
    wins; ties go to the fewest incidents, then the lowest user id."""
    if not loads:
        return Pick(None, "least loaded: no member of the group is available")
    chosen = min(loads, key=lambda u: (loads[u][0], loads[u][1], u))
    weighted, count = loads[chosen]
    return Pick(
        chosen,
        f"least loaded: {count} open incident(s), weighted load {weighted} "
        "(P1=5 … P5=1), the lightest of the available members",
    )
