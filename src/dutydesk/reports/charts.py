"""Server-rendered SVG charts for the dashboard: linear scales, nice ticks, grouped and
stacked bars, lines with gaps. Pure (no SQLAlchemy, no I/O): data in, an SVG string out.

Every text that reaches the SVG is escaped here; the colours come from CSS classes
(``chart__s1``…) in static/reports.css, as the CSP forbids inline styles. A missing value
(``None``) is a gap in a line and no bar, never a zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Literal

from markupsafe import Markup

Kind = Literal["bars", "stacked", "lines"]
Unit = Literal["count", "rate", "hours", "minutes"]

WIDTH = 640
HEIGHT = 240
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 40
MAX_X_LABELS = 8


def nice_number(value: float, *, round_: bool) -> float:
    """The 1-2-5 number closest to (round_) or not below (not round_) `value` (> 0)."""
    exponent = math.floor(math.log10(value))
    fraction = value / 10**exponent
    if round_:
        nice = 1 if fraction < 1.5 else 2 if fraction < 3 else 5 if fraction < 7 else 10
    else:
        nice = 1 if fraction <= 1 else 2 if fraction <= 2 else 5 if fraction <= 5 else 10
    return float(nice * 10**exponent)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high], about `count` of them, 0 included when the
    range starts at 0. An empty range (low == high) gets one step around it."""
    if count < 2:
        raise ValueError("count must be at least 2")
    if high < low:
        low, high = high, low
    if high == low:
        high = low + (abs(low) or 1.0)
    span = nice_number(high - low, round_=False)
    step = nice_number(span / (count - 1), round_=True)
    first = math.floor(low / step) * step
    last = math.ceil(high / step) * step
    n = round((last - first) / step)
    return [round(first + i * step, 10) for i in range(n + 1)]


@dataclass(frozen=True)
class Scale:
    """A linear map from the domain [d0, d1] to the range [r0, r1]."""

    d0: float
    d1: float
    r0: float
    r1: float

    def __call__(self, value: float) -> float:
        if self.d1 == self.d0:
            return (self.r0 + self.r1) / 2
        return self.r0 + (value - self.d0) * (self.r1 - self.r0) / (self.d1 - self.d0)


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[float | None, ...]


def format_value(value: float | None, unit: Unit) -> str:
    if value is None:
        return "no data"
    if unit == "rate":
        return f"{value * 100:.1f} %".replace(".0 %", " %")
    if unit == "hours":
        return f"{value:.1f} h"
    if unit == "minutes":
        return f"{value:.1f} min"
    return f"{value:g}"


@dataclass(frozen=True)
class Chart:
    """One chart: its accessible title and description, the x labels, the series."""

    key: str  # an id prefix, unique on the page
    title: str
    desc: str
    kind: Kind
    unit: Unit
    labels: tuple[str, ...]
    series: tuple[Series, ...]

    def __post_init__(self) -> None:
        for s in self.series:
            if len(s.values) != len(self.labels):
                raise ValueError(f"series {s.name!r} has {len(s.values)} values, not {len(self)}")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def is_empty(self) -> bool:
        return all(v is None for s in self.series for v in s.values)

    def cell(self, value: float | None) -> str:
        return format_value(value, self.unit)

    @property
    def svg(self) -> Markup:
        return Markup(render_svg(self))  # noqa: S704 - render_svg escapes every text


def _extent(chart: Chart) -> tuple[float, float]:
    if chart.kind == "stacked":
        totals = [sum(s.values[i] or 0.0 for s in chart.series) for i in range(len(chart.labels))]
        values = totals
    else:
        values = [v for s in chart.series for v in s.values if v is not None]
    high = max(values, default=0.0)
    low = min(values, default=0.0)
    if chart.unit == "rate":
        return 0.0, 1.0
    return min(0.0, low), high


def _attr(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def render_svg(chart: Chart) -> str:
    """The chart as an <svg> element (role img, <title>, <desc>); escaped throughout."""
    cid = escape(chart.key, quote=True)
    out = [
        f'<svg class="chart chart--{chart.kind}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{cid}-title {cid}-desc" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{cid}-title">{escape(chart.title)}</title>',
        f'<desc id="{cid}-desc">{escape(chart.desc)}</desc>',
    ]
    plot_right, plot_bottom = WIDTH - RIGHT, HEIGHT - BOTTOM
    if chart.is_empty:
        out.append(
            f'<text class="chart__empty" x="{WIDTH / 2:g}" y="{HEIGHT / 2:g}" '
            'text-anchor="middle">No data for this period</text></svg>'
        )
        return "".join(out)
    ticks = nice_ticks(*_extent(chart))
    y = Scale(ticks[0], ticks[-1], plot_bottom, TOP)
    step = ticks[1] - ticks[0]
    for tick in ticks:
        ty = _attr(y(tick))
        out.append(
            f'<line class="chart__grid" x1="{LEFT}" x2="{plot_right}" y1="{ty}" y2="{ty}"/>'
            f'<text class="chart__tick" x="{LEFT - 6}" y="{ty}" text-anchor="end" '
            f'dominant-baseline="middle">{escape(_tick_label(tick, chart.unit, step))}</text>'
        )
    n = len(chart.labels)
    band = (plot_right - LEFT) / n
    every = max(1, math.ceil(n / MAX_X_LABELS))
    for i, label in enumerate(chart.labels):
        if i % every == 0:
            minor = " chart__tick--minor" if (i // every) % 2 else ""  # hidden on phones
            out.append(
                f'<text class="chart__tick{minor}" x="{_attr(LEFT + band * (i + 0.5))}" '
                f'y="{plot_bottom + 18}" text-anchor="middle">{escape(label)}</text>'
            )
    draw: Callable[[Chart, Scale, float], list[str]] = _lines if chart.kind == "lines" else _bars
    out += draw(chart, y, band)
    out.append(
        f'<line class="chart__axis" x1="{LEFT}" x2="{plot_right}" '
        f'y1="{plot_bottom}" y2="{plot_bottom}"/></svg>'
    )
    return "".join(out)


def _tick_label(value: float, unit: Unit, step: float) -> str:
    """A tick in plain decimals (no exponent), as many as the step needs."""
    if unit == "rate":
        value, step = value * 100, step * 100
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 0
    text = f"{value:.{decimals}f}"
    return f"{text} %" if unit == "rate" else text


def _tip(chart: Chart, series: Series, i: int, value: float | None) -> str:
    text = f"{series.name}, {chart.labels[i]}: {format_value(value, chart.unit)}"
    return f"<title>{escape(text)}</title>"


def _bars(chart: Chart, y: Scale, band: float) -> list[str]:
    out: list[str] = []
    stacked = chart.kind == "stacked"
    inner = band * 0.8
    width = inner if stacked else inner / len(chart.series)
    base = [0.0] * len(chart.labels)
    for k, series in enumerate(chart.series, start=1):
        for i, value in enumerate(series.values):
            if value is None:
                continue
            x = LEFT + band * i + band * 0.1 + (0 if stacked else width * (k - 1))
            bottom = base[i] if stacked else 0.0
            top = bottom + value
            y0, y1 = y(bottom), y(top)
            if stacked:
                base[i] = top
            out.append(
                f'<rect class="chart__bar chart__s{k}" x="{_attr(x)}" y="{_attr(min(y0, y1))}" '
                f'width="{_attr(max(width - 1, 1))}" height="{_attr(abs(y0 - y1))}">'
                f"{_tip(chart, series, i, value)}</rect>"
            )
    return out


def _segments(values: Sequence[float | None]) -> list[list[int]]:
    """Runs of consecutive indexes with a value: a None breaks the line."""
    runs: list[list[int]] = [[]]
    for i, value in enumerate(values):
        if value is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(i)
    return [r for r in runs if r]


def _lines(chart: Chart, y: Scale, band: float) -> list[str]:
    out: list[str] = []
    for k, series in enumerate(chart.series, start=1):
        for run in _segments(series.values):
            points = " ".join(
                f"{_attr(LEFT + band * (i + 0.5))},{_attr(y(series.values[i] or 0.0))}" for i in run
            )
            if len(run) > 1:
                out.append(f'<polyline class="chart__line chart__s{k}" points="{points}"/>')
        for i, value in enumerate(series.values):
            if value is not None:
                out.append(
                    f'<circle class="chart__dot chart__s{k}" cx="{_attr(LEFT + band * (i + 0.5))}" '
                    f'cy="{_attr(y(value))}" r="3.5">{_tip(chart, series, i, value)}</circle>'
                )
    return out
