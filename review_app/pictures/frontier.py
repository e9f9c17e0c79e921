"""The frontier of a proposer run as a scatter: one point per proposal, its expected
agreement loss across (points; right is more loss) and its expected automation gain up
(points), each point a link to the proposal; the run's ceiling on the loss as a dashed line.

:func:`frontier` returns geometry only; ``_pictures.html`` draws it and the table beside it
lists the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from review_app.pictures.scale import Frame, Scale, Tick, extent, nice_ticks

__all__ = ["Dot", "Offer", "Scatter", "frontier"]

WIDTH = 640
HEIGHT = 320
LEFT = 56  # the y tick labels
RIGHT = 24
TOP = 16
BOTTOM = 44  # the x tick labels and the axis title
RADIUS = 7


@dataclass(frozen=True, slots=True)
class Offer:
    """One proposal of the run: its expected automation gain and agreement loss in points
    (a negative loss is a gain in agreement)."""

    proposal_id: int
    title: str
    gain: float
    loss: float
    href: str
    current: bool = False


@dataclass(frozen=True, slots=True)
class Dot:
    proposal_id: int
    title: str
    href: str
    current: bool
    cx: float
    cy: float
    r: int
    label: str  # "#12", written beside the dot
    label_x: float
    label_y: float


@dataclass(frozen=True, slots=True)
class Scatter(Frame):
    dots: tuple[Dot, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    zero_x: float | None  # where loss is 0 (a vertical line), when inside the plot
    zero_y: float | None  # where gain is 0 (a horizontal line), when inside the plot
    ceiling_x: float | None  # the run's ceiling on the loss, when inside the plot


def _points(value: float) -> str:
    text = f"{value:+g}"
    return "0" if float(text) == 0 else text.replace("-", "\u2212")


def _inside(scale: Scale, value: float | None) -> float | None:
    if value is None or not math.isfinite(value) or not scale.lo <= value <= scale.hi:
        return None
    return scale(value)


def frontier(offers: Sequence[Offer], ceiling: float | None = None) -> Scatter | None:
    """The scatter of ``offers`` (those with finite figures); None when none has any."""
    shown = [o for o in offers if math.isfinite(o.gain) and math.isfinite(o.loss)]
    if not shown:
        return None
    extra = [ceiling] if ceiling is not None and math.isfinite(ceiling) else []
    x_lo, x_hi = extent([o.loss for o in shown], include=(0.0, *extra))
    y_lo, y_hi = extent([o.gain for o in shown], include=(0.0,))
    # Inset by a dot's size, so that a point on the domain's edge is drawn whole.
    inset = RADIUS + 5
    x = Scale(x_lo, x_hi, LEFT + inset, WIDTH - RIGHT - inset)
    y = Scale(y_lo, y_hi, HEIGHT - BOTTOM - inset, TOP + inset)
    dots = []
    # The current proposal last, so that its dot is drawn on top of any it overlaps.
    for o in sorted(shown, key=lambda o: (o.current, o.proposal_id)):
        cx, cy = x(o.loss), y(o.gain)
        left = cx > (WIDTH - RIGHT) - 40  # near the right edge: the label goes left
        dots.append(
            Dot(
                proposal_id=o.proposal_id,
                title=o.title,
                href=o.href,
                current=o.current,
                cx=cx,
                cy=cy,
                r=RADIUS + 2 if o.current else RADIUS,
                label=f"#{o.proposal_id}",
                label_x=cx - 10 if left else cx + 10,
                label_y=max(cy - 10, TOP + 10),
            )
        )
    return Scatter(
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        plot_top=TOP,
        plot_bottom=HEIGHT - BOTTOM,
        dots=tuple(dots),
        x_ticks=tuple(Tick(x(t), _points(t)) for t in nice_ticks(x_lo, x_hi)),
        y_ticks=tuple(Tick(y(t), _points(t)) for t in nice_ticks(y_lo, y_hi)),
        zero_x=_inside(x, 0.0),
        zero_y=_inside(y, 0.0),
        ceiling_x=_inside(x, extra[0]) if extra else None,
    )
