"""The dashboard's KPI definitions: one per figure, agreeing with docs/kpis.md; tiles' trends."""

from __future__ import annotations

from pathlib import Path

from dutydesk.reports.definitions import DEFINITIONS, TILE_KEYS, format_figure, tile
from dutydesk.reports.kpis import KPI_KEYS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "kpis.md").read_text()


def test_every_kpi_of_the_table_has_a_definition_that_the_doc_defines() -> None:
    assert set(KPI_KEYS) <= set(DEFINITIONS)
    for key in KPI_KEYS:
        if key != "count":
            assert f"`{key}`" in DOC, key
    assert "Major incidents" in DOC  # the P1 stand-in is explained under "Not yet"
    for d in DEFINITIONS.values():
        assert d.label and len(d.definition) > 20


def test_a_tile_colours_its_trend_by_whether_up_is_good() -> None:
    assert tile("mttr_seconds", 7200, 3600).tone == "bad"  # slower
    assert tile("mttr_seconds", 3600, 7200).tone == "good"
    assert tile("fcr_rate", 0.8, 0.5).tone == "good"
    assert tile("fcr_rate", 0.8, 0.5).trend == "up"
    assert tile("count", 10, 5).tone == "neutral"
    assert tile("csat_mean", None, 4.0).trend == "none"
    assert tile("backlog", 3, 3).trend == "flat"
    assert tile("backlog", 3, 3).arrow == "▬"


def test_figures_are_formatted_by_unit_and_null_is_a_dash() -> None:
    assert format_figure(None, "rate") == "–"
    assert format_figure(0.0, "rate") == "0.0 %"
    assert format_figure(0.5, "rate") == "50.0 %"
    assert format_figure(1800, "duration") == "30 min"
    assert format_figure(5400, "duration") == "1.5 h"
    assert format_figure(3 * 86400, "duration") == "3.0 d"
    assert format_figure(4.25, "rating") == "4.25 / 5"
    assert format_figure(12345, "count") == "12 345"
    assert len(TILE_KEYS) == len(DEFINITIONS)
