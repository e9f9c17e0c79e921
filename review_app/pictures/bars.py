"""The backtest's before/after as horizontal bars: for each measure (automation, agreement,
exceptions) one bar for the base version and one for the candidate, on a 0 to 100% axis.

:func:`before_after` returns geometry only (SVG user units in a fixed ``viewBox``); the
template ``_pictures.html`` draws it, and the table beside it holds the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from review_app.pictures.scale import Frame, Scale, Tick, nice_ticks, rounded

__all__ = ["Bar", "BarChart", "BarRow", "Measure", "Tick", "before_after"]

WIDTH = 640
LABEL_WIDTH = 200  # the measure's name, left of the bars
VALUE_WIDTH = 56  # room right of the longest bar for its value
BAR = 14
GAP = 4  # between the two bars of a measure
ROW_GAP = 18  # between measures
TOP = 8
AXIS = 24  # the tick labels under the plot


@dataclass(frozen=True, slots=True)
class Measure:
    """One measure in percent (0 to 100), before and after; None when it is not known."""

    label: str
    before: float | None
    after: float | None


@dataclass(frozen=True, slots=True)
class Bar:
    kind: str  # "before" or "after"
    x: float
    y: float
    width: float
    height: float
    text: str  # the value, as written at the bar's end
    text_x: float
    text_y: float


@dataclass(frozen=True, slots=True)
class BarRow:
    label: str
    label_y: float
    bars: tuple[Bar, ...]


@dataclass(frozen=True, slots=True)
class BarChart(Frame):
    rows: tuple[BarRow, ...]
    ticks: tuple[Tick, ...]


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def _bar(kind: str, value: float | None, y: float, x: Scale) -> Bar:
    known = value is not None and math.isfinite(value)
    end = x(value) if known and value is not None else x.start
    return Bar(
        kind=kind,
        x=x.start,
        y=rounded(y),
        width=rounded(end - x.start),
        height=BAR,
        text=_percent(value if known else None),
        text_x=rounded(end + 4),
        text_y=rounded(y + BAR - 3),
    )


def before_after(measures: Sequence[Measure]) -> BarChart | None:
    """The bars of ``measures``; None when there are none."""
    if not measures:
        return None
    x = Scale(0.0, 100.0, LABEL_WIDTH, WIDTH - VALUE_WIDTH)
    rows = []
    y = float(TOP)
    for m in measures:
        bars = (_bar("before", m.before, y, x), _bar("after", m.after, y + BAR + GAP, x))
        rows.append(BarRow(m.label, rounded(y + BAR + GAP / 2 + 4), bars))
        y += 2 * BAR + GAP + ROW_GAP
    bottom = y - ROW_GAP + 6
    ticks = tuple(Tick(x(t), f"{t:g}%") for t in nice_ticks(0.0, 100.0, 4))
    return BarChart(
        width=WIDTH,
        height=int(bottom + AXIS),
        plot_left=x.start,
        plot_right=x.end,
        plot_top=TOP - 4,
        plot_bottom=rounded(bottom),
        rows=tuple(rows),
        ticks=ticks,
    )
