"""The SVG chart module: nice ticks, scales, empty data, single points, gaps, escaping."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from dutydesk.reports.charts import Chart, Scale, Series, format_value, nice_ticks, render_svg

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def chart(kind: str = "bars", unit: str = "count", **series: tuple[float | None, ...]) -> Chart:
    n = len(next(iter(series.values()))) if series else 0
    labels = tuple(f"d{i}" for i in range(n))
    return Chart(
        "c",
        "Title",
        "Description",
        kind,  # type: ignore[arg-type]
        unit,  # type: ignore[arg-type]
        labels,
        tuple(Series(k, v) for k, v in series.items()),
    )


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0, 7, [0, 2, 4, 6, 8]),
        (0, 1, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (3, 97, [0, 20, 40, 60, 80, 100]),
        (0, 1234, [0, 500, 1000, 1500]),
        (-3, 4, [-4, -2, 0, 2, 4]),
    ],
)
def test_nice_ticks_cover_the_range_with_round_steps(
    low: float, high: float, expected: list[float]
) -> None:
    ticks = nice_ticks(low, high)
    assert ticks == pytest.approx(expected)
    assert ticks[0] <= low and ticks[-1] >= high


def test_an_empty_range_still_gets_ticks_around_it() -> None:
    assert nice_ticks(0, 0) == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ticks = nice_ticks(5, 5)
    assert ticks[0] <= 5 < ticks[-1]
    with pytest.raises(ValueError):
        nice_ticks(0, 1, count=1)


def test_a_scale_maps_linearly_and_a_flat_domain_to_the_middle() -> None:
    y = Scale(0, 10, 200, 0)
    assert (y(0), y(5), y(10)) == (200, 100, 0)
    assert Scale(3, 3, 0, 100)(3) == 50


def test_no_data_draws_a_message_and_no_marks() -> None:
    for empty in (chart(a=()), chart(a=(None, None)), chart("lines", a=(None,))):
        svg = render_svg(empty)
        assert "No data for this period" in svg
        assert "<rect" not in svg and "<circle" not in svg and "<polyline" not in svg
        assert empty.is_empty


def test_bars_have_one_rect_per_value_with_heights_in_proportion() -> None:
    root = parse(render_svg(chart(a=(2.0, 4.0), b=(1.0, 0.0))))
    rects = root.findall(f"{SVG}rect")
    assert len(rects) == 4  # a real zero is a bar of height 0, not missing
    heights = [float(r.get("height", "0")) for r in rects]
    assert heights[1] == pytest.approx(2 * heights[0])
    assert heights[3] == 0
    assert root.find(f"{SVG}title") is not None and root.find(f"{SVG}desc") is not None
    assert root.get("role") == "img"


def test_stacked_bars_sit_on_each_other() -> None:
    root = parse(render_svg(chart("stacked", a=(1.0,), b=(3.0,))))
    low, high = root.findall(f"{SVG}rect")
    bottom_of_high = float(high.get("y", "0")) + float(high.get("height", "0"))
    assert bottom_of_high == pytest.approx(float(low.get("y", "0")))
    assert float(high.get("height", "0")) == pytest.approx(3 * float(low.get("height", "0")))


def test_nulls_are_gaps_in_a_line_not_zeros() -> None:
    svg = render_svg(chart("lines", "hours", a=(1.0, 2.0, None, 4.0, 5.0)))
    root = parse(svg)
    lines = root.findall(f"{SVG}polyline")
    assert len(lines) == 2  # broken at the gap
    assert [len(p.get("points", "").split()) for p in lines] == [2, 2]
    dots = root.findall(f"{SVG}circle")
    assert len(dots) == 4
    zero_y = min(float(t.get("y", "0")) for t in root.findall(f"{SVG}text") if t.text == "0")
    assert all(float(d.get("cy", "0")) < zero_y for d in dots)  # none drawn at zero


def test_a_single_point_is_a_dot_without_a_line() -> None:
    root = parse(render_svg(chart("lines", a=(None, 3.0, None))))
    assert root.findall(f"{SVG}polyline") == []
    assert len(root.findall(f"{SVG}circle")) == 1


def test_rates_are_drawn_on_a_zero_to_hundred_percent_axis() -> None:
    svg = render_svg(chart("lines", "rate", a=(0.5, 0.75)))
    ticks = re.findall(r">(\d+) %<", svg)
    assert ticks[0] == "0" and ticks[-1] == "100"
    assert "75 %" in format_value(0.75, "rate")
    assert format_value(None, "rate") == "no data"


def test_every_text_is_escaped() -> None:
    evil = Chart(
        'x"><script>',
        "<b>title</b>",
        "a & b",
        "bars",
        "count",
        ("<img src=x>",),
        (Series("<i>s</i>", (1.0,)),),
    )
    svg = render_svg(evil)
    assert "<script>" not in svg and "<b>" not in svg and "<img" not in svg and "<i>" not in svg
    assert "&lt;b&gt;title&lt;/b&gt;" in svg and "a &amp; b" in svg
    parse(svg)  # still well-formed


def test_series_must_match_the_labels() -> None:
    with pytest.raises(ValueError):
        Chart("c", "t", "d", "bars", "count", ("a", "b"), (Series("s", (1.0,)),))


def test_tick_labels_are_plain_decimals_never_exponents() -> None:
    svg = render_svg(chart("lines", "minutes", a=(0.00012, 0.00016)))
    ticks = re.findall(r'class="chart__tick" x="58"[^>]*>([^<]+)<', svg)
    assert ticks and all("e" not in t for t in ticks)
    assert "0.00005" in ticks or "0.00010" in ticks
    assert re.findall(r'x="58"[^>]*>([^<]+)<', render_svg(chart(a=(0.0, 7.0)))) == [
        "0",
        "2",
        "4",
        "6",
        "8",
    ]
