"""The portal's plain words (pure): urgency levels, the progress line, request marking."""

from __future__ import annotations

import pytest

from dutydesk.incidents.lifecycle import Status
from dutydesk.incidents.portal_rules import (
    Kind,
    UrgencyChoice,
    kind_of,
    plain_status,
    progress,
    size_label,
    status_label,
    urgency_level,
)


@pytest.mark.parametrize(
    ("choice", "levels", "expected"),
    [
        (UrgencyChoice.blocking, 3, 1),
        (UrgencyChoice.workaround, 3, 2),
        (UrgencyChoice.can_wait, 3, 3),
        (UrgencyChoice.blocking, 5, 1),
        (UrgencyChoice.workaround, 5, 3),
        (UrgencyChoice.can_wait, 5, 5),
    ],
)
def test_plain_urgency_maps_to_the_top_middle_and_bottom_of_the_matrix(
    choice: UrgencyChoice, levels: int, expected: int
) -> None:
    assert urgency_level(choice, levels) == expected


@pytest.mark.parametrize(
    ("status", "labels", "current"),
    [
        (Status.new, ["Logged", "Being worked on", "Resolved", "Closed"], "Logged"),
        (Status.assigned, ["Logged", "Being worked on", "Resolved", "Closed"], "Being worked on"),
        (
            Status.pending_vendor,
            ["Logged", "Being worked on", "Resolved", "Closed"],
            "Being worked on",
        ),
        (
            Status.pending_user,
            ["Logged", "Being worked on", "Waiting for you", "Resolved", "Closed"],
            "Waiting for you",
        ),
        (Status.resolved, ["Logged", "Being worked on", "Resolved", "Closed"], "Resolved"),
        (Status.closed, ["Logged", "Being worked on", "Resolved", "Closed"], None),
        (Status.cancelled, ["Logged", "Being worked on", "Resolved", "Cancelled"], "Cancelled"),
    ],
)
def test_the_progress_line_of_every_state(
    status: Status, labels: list[str], current: str | None
) -> None:
    steps = progress(status)
    assert [s.label for s in steps] == labels
    assert [s.label for s in steps if s.state == "current"] == ([current] if current else [])
    first_todo = next((i for i, s in enumerate(steps) if s.state == "todo"), len(steps))
    assert all(s.state == "todo" for s in steps[first_todo:])  # nothing done after a todo


def test_every_state_has_plain_words() -> None:
    for status in Status:
        assert plain_status(status) and status_label(status)
    assert plain_status(Status.pending_user).startswith("Waiting for you")


def test_the_request_flag_decides_the_kind() -> None:
    assert kind_of(True) == Kind.request and kind_of(False) == Kind.incident


@pytest.mark.parametrize(
    ("size", "label"), [(15, "15 bytes"), (2048, "2 KB"), (3 * 1024 * 1024, "3.0 MB")]
)
def test_file_sizes_read_as_people_read_them(size: int, label: str) -> None:
    assert size_label(size) == label
