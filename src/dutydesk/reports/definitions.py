"""The one place the dashboard takes each KPI's name, definition and direction from.

The texts restate docs/kpis.md (a test checks that every per-incident key named here is
defined there); the dashboard shows them as tooltips and in an accessible disclosure.
Pure data: no SQLAlchemy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Unit = Literal["duration", "rate", "count", "number", "rating"]
Better = Literal["up", "down", "neither"]


@dataclass(frozen=True)
class KpiDefinition:
    key: str  # the field of the KPI table (reports/kpis.py) or a dashboard figure
    label: str
    unit: Unit
    better: Better  # which direction of change is good
    definition: str


_DEFS = (
    KpiDefinition(
        "count",
        "Opened",
        "count",
        "neither",
        "Incidents opened in the period that match the filters and that you may see.",
    ),
    KpiDefinition(
        "resolved",
        "Resolved",
        "count",
        "up",
        "Incidents whose resolved_at falls in the period (as in the volume report), "
        "whenever they were opened.",
    ),
    KpiDefinition(
        "backlog",
        "Backlog",
        "count",
        "down",
        "Incidents open at the end of the period (opened before it, not resolved, closed or "
        "cancelled by then). A reopened incident counts as open from its first resolution.",
    ),
    KpiDefinition(
        "major",
        "Major incidents (P1)",
        "count",
        "down",
        "Priority 1 incidents opened in the period. DutyDesk has no major-incident process "
        "yet, so P1 stands in for it.",
    ),
    KpiDefinition(
        "mtta_seconds",
        "MTTA",
        "duration",
        "down",
        "Mean of acknowledged_at − opened_at over incidents with acknowledged_at (the first "
        "action of a staff user: assignment, start, comment…). Wall-clock time.",
    ),
    KpiDefinition(
        "mttr_seconds",
        "MTTR mean",
        "duration",
        "down",
        "Mean of resolved_at − opened_at over incidents with resolved_at; a reopened incident "
        "counts to its final resolution; cancelled incidents are excluded. Wall-clock time.",
    ),
    KpiDefinition(
        "mttr_median_seconds",
        "MTTR median",
        "duration",
        "down",
        "Median of the same durations as MTTR mean (the mean of the two middle values for an "
        "even number). Wall-clock time.",
    ),
    KpiDefinition(
        "business_mttr_seconds",
        "MTTR mean, business",
        "duration",
        "down",
        "Mean of the business seconds the resolution SLA clock counted when it stopped, on "
        "its policy's calendar; pauses are not counted; incidents without a stopped clock "
        "are left out.",
    ),
    KpiDefinition(
        "business_mttr_median_seconds",
        "MTTR median, business",
        "duration",
        "down",
        "Median of the same business durations as MTTR mean, business.",
    ),
    KpiDefinition(
        "fcr_rate",
        "First-contact resolution",
        "rate",
        "up",
        "Among incidents with resolved_at, the share with reassignment_count = 0 and "
        "reopen_count = 0.",
    ),
    KpiDefinition(
        "sla_response_met_rate",
        "SLA response met",
        "rate",
        "up",
        "Among incidents whose response clock is decided (breached, or stopped other than by "
        "cancellation), the share whose response clock never breached.",
    ),
    KpiDefinition(
        "sla_resolution_met_rate",
        "SLA resolution met",
        "rate",
        "up",
        "The same for the resolution clock. OLA clocks are not counted.",
    ),
    KpiDefinition(
        "reopen_rate",
        "Reopen rate",
        "rate",
        "down",
        "Among incidents resolved at least once, the share with reopen_count > 0.",
    ),
    KpiDefinition(
        "reassignment_mean",
        "Reassignments",
        "number",
        "down",
        "Mean reassignment_count (moves to another group or agent after the first "
        "assignment) over the incidents opened in the period.",
    ),
    KpiDefinition(
        "escalation_rate",
        "Escalation rate",
        "rate",
        "down",
        "Share of the incidents opened in the period with escalation_level > 1 "
        "(functionally escalated beyond the first tier).",
    ),
    KpiDefinition(
        "csat_mean",
        "CSAT",
        "rating",
        "up",
        "Mean survey rating (1–5) over rated incidents.",
    ),
    KpiDefinition(
        "csat_response_rate",
        "CSAT response rate",
        "rate",
        "up",
        "Rated incidents ÷ closed incidents (closed_at set).",
    ),
)

DEFINITIONS: dict[str, KpiDefinition] = {d.key: d for d in _DEFS}


def format_figure(value: float | None, unit: Unit) -> str:
    """A figure as the dashboard shows it; `None` (empty denominator) is a dash."""
    if value is None:
        return "–"
    if unit == "rate":
        return f"{value * 100:.1f} %"
    if unit == "rating":
        return f"{value:.2f} / 5"
    if unit == "number":
        return f"{value:.2f}"
    if unit == "count":
        return f"{int(value):,}".replace(",", " ")
    seconds = float(value)
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


Trend = Literal["up", "down", "flat", "none"]
Tone = Literal["good", "bad", "neutral"]


@dataclass(frozen=True)
class Tile:
    kpi: KpiDefinition
    value: str
    previous: str
    trend: Trend
    tone: Tone

    @property
    def arrow(self) -> str:
        return {"up": "▲", "down": "▼", "flat": "▬", "none": ""}[self.trend]

    @property
    def trend_text(self) -> str:
        words = {"up": "up", "down": "down", "flat": "unchanged", "none": "no comparison"}
        quality = {"good": ", better", "bad": ", worse", "neutral": ""}[self.tone]
        return f"{words[self.trend]}{quality if self.trend in ('up', 'down') else ''}"


def tile(key: str, current: float | None, previous: float | None) -> Tile:
    """A KPI's tile: its value beside the previous period's, and whether the change is good."""
    kpi = DEFINITIONS[key]
    trend: Trend
    if current is None or previous is None:
        trend = "none"
    elif abs(current - previous) < 1e-9:
        trend = "flat"
    else:
        trend = "up" if current > previous else "down"
    tone: Tone = "neutral"
    if trend in ("up", "down") and kpi.better != "neither":
        tone = "good" if trend == kpi.better else "bad"
    return Tile(
        kpi, format_figure(current, kpi.unit), format_figure(previous, kpi.unit), trend, tone
    )


TILE_KEYS = tuple(DEFINITIONS)
