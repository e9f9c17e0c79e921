"""Linear scales and axis ticks for the pictures: pure arithmetic, no markup.

A scale maps a domain (data values) onto a range (SVG user units). A domain of one value is
widened so that the value sits in the middle; values outside the domain are clamped to its
edges, so an extreme value lands on the border of the plot instead of outside the picture.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Frame", "Scale", "Tick", "extent", "nice_ticks", "rounded"]


def rounded(value: float) -> float:
    """A coordinate as written in the SVG: one decimal is finer than a pixel."""
    return round(value, 1) + 0.0  # + 0.0 turns -0.0 into 0.0


@dataclass(frozen=True, slots=True)
class Tick:
    position: float
    text: str


@dataclass(frozen=True, slots=True)
class Frame:
    """A picture's size and its plot area's edges (SVG user units): what every chart has."""

    width: int
    height: int
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float


@dataclass(frozen=True, slots=True)
class Scale:
    """``lo``..``hi`` (data) onto ``start``..``end`` (picture; ``start > end`` for y axes,
    which grow downwards in SVG)."""

    lo: float
    hi: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        if self.hi == self.lo:
            return rounded((self.start + self.end) / 2)
        share = (min(max(value, self.lo), self.hi) - self.lo) / (self.hi - self.lo)
        return rounded(self.start + share * (self.end - self.start))


def _step(span: float, count: int) -> float:
    raw = span / max(count, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    return next(n * power for n in (1.0, 2.0, 2.5, 5.0, 10.0) if raw <= n * power)


def extent(
    values: Iterable[float], include: Iterable[float] = (), count: int = 5
) -> tuple[float, float]:
    """A domain holding every finite value and every ``include``, widened to whole ticks."""
    # Nine decimals: what is smaller than that is no difference on a picture.
    found = [round(v, 9) + 0.0 for v in (*values, *include) if math.isfinite(v)]
    if not found:
        return 0.0, 1.0
    lo, hi = min(found), max(found)
    if lo == hi:
        pad = abs(lo) / 2 or 1.0
        lo, hi = lo - pad, hi + pad
    step = _step(hi - lo, count)
    return math.floor(lo / step) * step + 0.0, math.ceil(hi / step) * step + 0.0


def nice_ticks(lo: float, hi: float, count: int = 5) -> tuple[float, ...]:
    """Round values from ``lo`` to ``hi`` (both included when they are round), about
    ``count`` steps apart."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return (lo,) if math.isfinite(lo) else ()
    step = _step(hi - lo, count)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return tuple(round(n * step, 10) + 0.0 for n in range(first, last + 1))
