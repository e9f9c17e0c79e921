"""Pictures drawn on the server as inline SVG (no JavaScript, within the app's CSP): pure
functions here compute the geometry, ``templates/_pictures.html`` draws it with autoescaping
on, and each picture comes with a text alternative and a table of its numbers.

- :mod:`~review_app.pictures.scale`: linear scales and ticks;
- :mod:`~review_app.pictures.bars`: a backtest's before/after;
- :mod:`~review_app.pictures.frontier`: a proposer run's frontier, a point per proposal;
- :mod:`~review_app.pictures.series`: a ruleset's rates over time, activations marked.
"""

from __future__ import annotations

from review_app.pictures.bars import Bar, BarChart, BarRow, Measure, before_after
from review_app.pictures.frontier import Dot, Offer, Scatter, frontier
from review_app.pictures.scale import Frame, Scale, Tick, extent, nice_ticks
from review_app.pictures.series import Line, Marker, RatesChart, rates_chart

__all__ = [
    "Bar",
    "BarChart",
    "BarRow",
    "Dot",
    "Frame",
    "Line",
    "Marker",
    "Measure",
    "Offer",
    "RatesChart",
    "Scale",
    "Scatter",
    "Tick",
    "before_after",
    "extent",
    "frontier",
    "nice_ticks",
    "rates_chart",
]
