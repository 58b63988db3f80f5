"""The impact × urgency matrix and the logging checklist (pure)."""

from __future__ import annotations

import pytest

from dutydesk.incidents.priority import DEFAULT_MATRIX, PriorityMatrix, missing_checklist_fields


@pytest.mark.parametrize(
    ("impact", "urgency", "priority"),
    [
        (1, 1, 1),
        (1, 2, 2),
        (2, 1, 2),
        (1, 3, 3),
        (2, 2, 3),
        (3, 1, 3),
        (2, 3, 4),
        (3, 2, 4),
        (3, 3, 5),
    ],
)
def test_itil_default(impact: int, urgency: int, priority: int) -> None:
    assert PriorityMatrix(DEFAULT_MATRIX).priority(impact, urgency) == priority


def test_matrix_problems_are_listed() -> None:
    assert PriorityMatrix(((1, 2), (2, 3))).problems()
    assert PriorityMatrix(((1, 2, 9), (2, 3, 4), (3, 4, 5))).problems() == [
        "row 1: priority 9 is not a whole number 1–5"
    ]
    assert PriorityMatrix(DEFAULT_MATRIX).problems() == []


def test_checklist_lists_every_missing_field() -> None:
    values = {"short_description": "x", "caller": None, "impact": 2, "urgency": "  "}
    assert missing_checklist_fields(
        values, ("short_description", "caller", "impact", "urgency", "service")
    ) == [
        "caller",
        "urgency",
        "service",
    ]
