"""The live stream's memory (``incidents.live.Watch``): each version is announced once, late
commits inside the lookback are still caught, and a burst moves the floor past itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dutydesk.incidents.live import BATCH, LOOKBACK, Watch

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_each_version_is_announced_once_and_late_commits_are_caught() -> None:
    watch = Watch(number=None, since=T0)
    assert watch.absorb([("INC1", 1, T0 - timedelta(seconds=1))]) == ["INC1"]
    assert watch.absorb([("INC1", 1, T0 - timedelta(seconds=1))]) == []  # read again: silent
    assert watch.absorb([("INC1", 2, T0 + timedelta(seconds=2))]) == ["INC1"]
    # stamped before INC1's change but committed after it: still inside the lookback
    assert watch.lower_bound() == T0 + timedelta(seconds=2) - LOOKBACK
    assert watch.absorb([("INC2", 5, T0 + timedelta(seconds=1))]) == ["INC2"]


def test_old_entries_are_forgotten_and_a_burst_moves_the_floor() -> None:
    watch = Watch(number=None, since=T0)
    watch.absorb([("INC1", 1, T0)])
    later = T0 + LOOKBACK * 3
    watch.absorb([("INC2", 1, later)])
    assert set(watch.seen) == {"INC2"}
    burst = [(f"B{i}", 1, later + timedelta(microseconds=i)) for i in range(BATCH)]
    assert len(watch.absorb(burst)) == BATCH
    assert watch.lower_bound() == burst[-1][2]
