"""A ruleset's automation and exception rates over time as two lines, one point per bucket
(day or week) of the decision log, with each version activation marked by a vertical line.

:func:`rates_chart` takes the buckets :func:`rules.store.decisions.rates.rates` counted and
the activations, and returns geometry only; ``_pictures.html`` draws it and the table beside
it lists the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from review_app.pictures.scale import Frame, Scale, Tick, nice_ticks
from rules.store.decisions.rates import Bucket

__all__ = ["Line", "Marker", "RatesChart", "rates_chart"]

WIDTH = 640
HEIGHT = 260
LEFT = 48
RIGHT = 16
TOP = 24  # room for the activation labels
BOTTOM = 36
LABELS = 6  # at most this many dates under the axis
CLOSE = 24  # activation markers nearer than this share their label


@dataclass(frozen=True, slots=True)
class Line:
    kind: str  # "automation" or "exceptions"
    points: str  # the polyline's "x,y x,y ..."
    dots: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Marker:
    number: int
    x: float
    label: str  # "v2"; "v1, v2" for activations close together; "" but for the last


@dataclass(frozen=True, slots=True)
class RatesChart(Frame):
    lines: tuple[Line, ...]
    markers: tuple[Marker, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]


def _seconds(at: datetime, origin: datetime) -> float:
    return (at - origin).total_seconds()


def _markers(placed: Sequence[tuple[float, int]]) -> tuple[Marker, ...]:
    """A marker per activation; those closer than :data:`CLOSE` to the next share one label
    (``v1, v2``), written at the last of them."""
    markers = []
    pending: list[str] = []
    for i, (x, number) in enumerate(placed):
        pending.append(f"v{number}")
        last = i + 1 == len(placed) or placed[i + 1][0] - x >= CLOSE
        markers.append(Marker(number, x, ", ".join(pending) if last else ""))
        if last:
            pending = []
    return tuple(markers)


def rates_chart(
    buckets: Sequence[Bucket], activations: Sequence[tuple[datetime, int]]
) -> RatesChart | None:
    """Two lines over ``buckets`` (each point at its bucket's middle) and a marker for each
    activation ``(at, number)`` inside the buckets' span; None without a decided bucket."""
    shown = [b for b in buckets if b.decisions]
    if not shown:
        return None
    origin, end = shown[0].start, shown[-1].end
    x = Scale(0.0, _seconds(end, origin), LEFT, WIDTH - RIGHT)
    y = Scale(0.0, 100.0, HEIGHT - BOTTOM, TOP)
    lines = []
    for kind in ("automation", "exceptions"):
        dots = tuple(
            (
                x(_seconds(b.start, origin) + _seconds(b.end, b.start) / 2),
                y(100 * (b.automation_rate if kind == "automation" else b.exception_rate)),
            )
            for b in shown
        )
        lines.append(Line(kind, " ".join(f"{cx:g},{cy:g}" for cx, cy in dots), dots))
    markers = _markers(
        [(x(_seconds(at, origin)), number) for at, number in activations if origin <= at <= end]
    )
    step = max(1, -(-len(shown) // LABELS))
    x_ticks = tuple(
        Tick(x(_seconds(b.start, origin) + _seconds(b.end, b.start) / 2), b.start.strftime("%d %b"))
        for b in shown[::step]
    )
    y_ticks = tuple(Tick(y(t), f"{t:g}%") for t in nice_ticks(0.0, 100.0, 4))
    return RatesChart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=x.start,
        plot_right=x.end,
        plot_top=y.end,
        plot_bottom=y.start,
        lines=tuple(lines),
        markers=markers,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
    )
