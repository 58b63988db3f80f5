"""The one clock: every 'now' in DutyDesk comes from here so tests can move time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """The current instant, UTC-aware."""
    return _source()


@contextmanager
def frozen(at: datetime) -> Iterator[Callable[[timedelta], None]]:
    """Freeze now() at `at` (UTC-aware); yields a function that moves the frozen time."""
    global _source
    if at.tzinfo is None:
        raise ValueError("frozen() needs a timezone-aware datetime")
    state = {"at": at.astimezone(UTC)}
    previous = _source
    _source = lambda: state["at"]  # noqa: E731

    def advance(delta: timedelta) -> None:
        state["at"] = state["at"] + delta

    try:
        yield advance
    finally:
        _source = previous
