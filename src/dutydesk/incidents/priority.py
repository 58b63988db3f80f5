"""Priority from impact × urgency, and the minimum-information checklist (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# ITIL default: 1 = high, 3 = low on both axes; priority 1 (critical) … 5 (planning).
DEFAULT_MATRIX: tuple[tuple[int, ...], ...] = ((1, 2, 3), (2, 3, 4), (3, 4, 5))

CHECKLIST_FIELDS = (
    "short_description",
    "description",
    "caller",
    "channel",
    "customer",
    "service",
    "ci",
    "category",
    "subcategory",
    "impact",
    "urgency",
    "assignment_group",
)
DEFAULT_CHECKLIST: tuple[str, ...] = ("short_description", "caller", "channel", "impact", "urgency")


@dataclass(frozen=True)
class PriorityMatrix:
    """rows = impact levels, columns = urgency levels; cells are priorities 1…5."""

    cells: tuple[tuple[int, ...], ...] = DEFAULT_MATRIX

    @property
    def levels(self) -> int:
        return len(self.cells)

    def priority(self, impact: int, urgency: int) -> int:
        return self.cells[impact - 1][urgency - 1]

    def problems(self) -> list[str]:
        errors = []
        if self.levels not in (3, 4, 5):
            errors.append("the matrix must have 3, 4 or 5 rows (impact levels)")
        for i, row in enumerate(self.cells, start=1):
            if len(row) != self.levels:
                errors.append(f"row {i} must have {self.levels} cells (one per urgency level)")
            for cell in row:
                if not isinstance(cell, int) or isinstance(cell, bool) or not 1 <= cell <= 5:
                    errors.append(f"row {i}: priority {cell!r} is not a whole number 1–5")
        return errors


def missing_checklist_fields(values: Mapping[str, Any], required: tuple[str, ...]) -> list[str]:
    """The required fields that are empty in `values`, in checklist order."""
    missing = []
    for name in required:
        value = values.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            missing.append(name)
    return missing
