"""Charts drawn on the server as SVG: no JavaScript, no external service.

``stacked_bars`` turns counts per day and series into the geometry of a
stacked bar chart; ``messaging/_bar_chart.html`` draws it (the template keeps
its texts translatable). Pure functions of their input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

WIDTH = 720
HEIGHT = 240
LEFT = 40  # room for the y-axis labels
RIGHT = 8
TOP = 10
BOTTOM = 26  # room for the x-axis labels
GAP = 0.25  # of a slot, between bars


@dataclass(frozen=True)
class Segment:
    series: str
    label: str
    value: int
    y: float
    height: float


@dataclass(frozen=True)
class Bar:
    day: date
    x: float
    width: float
    total: int
    segments: list[Segment]
    label: bool  # the x-axis shows this day's date

    @property
    def center(self) -> float:
        return round(self.x + self.width / 2, 2)


@dataclass(frozen=True)
class GridLine:
    y: float
    value: int


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    grid: list[GridLine]
    series: list[str]
    total: int
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    baseline: float = HEIGHT - BOTTOM
    rows: list[dict[str, object]] = field(default_factory=list)  # the same data as a table

    @property
    def empty(self) -> bool:
        return self.total == 0


def nice_ceiling(value: int) -> int:
    """The top of the y axis: 4 grid steps of a round whole size (1, 2, 2.5 or 5 × 10^n) reaching ``value``."""
    magnitude = 1
    while True:
        for step in (1, 2, 2.5, 5):
            size = step * magnitude
            if size == int(size) and 4 * size >= value:
                return int(4 * size)
        magnitude *= 10


def stacked_bars(
    days: Sequence[date],
    series: Sequence[str],
    counts: dict[tuple[date, str], int],
    *,
    labels: dict[str, str] | None = None,
    label_every: int = 7,
) -> Chart:
    """One bar per day, stacked by series in the given order; ``counts`` maps
    (day, series) → count; ``labels`` names the series (their keys otherwise)."""
    labels = labels or {}
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = float(HEIGHT - BOTTOM)
    totals = [sum(counts.get((day, name), 0) for name in series) for day in days]
    ceiling = nice_ceiling(max(totals, default=0))
    slot = plot_width / max(1, len(days))
    bars = []
    rows: list[dict[str, object]] = []
    last = len(days) - 1
    for index, day in enumerate(days):
        y = baseline
        segments = []
        values = {}
        for name in series:
            value = counts.get((day, name), 0)
            values[name] = value
            if value:
                height = plot_height * value / ceiling
                y -= height
                segments.append(Segment(name, labels.get(name, name), value, round(y, 2), round(height, 2)))
        bars.append(
            Bar(
                day=day,
                x=round(LEFT + index * slot + slot * GAP / 2, 2),
                width=round(slot * (1 - GAP), 2),
                total=totals[index],
                segments=segments,
                label=(last - index) % label_every == 0,
            )
        )
        rows.append({"day": day, "values": [values[name] for name in series], "total": totals[index]})
    grid = [GridLine(round(baseline - plot_height * i / 4, 2), ceiling * i // 4) for i in range(5)]
    return Chart(bars=bars, grid=grid, series=list(series), total=sum(totals), rows=rows)
