"""A proposal's out-of-sample estimate as the dossier shows it, beside the backtest: for
automation and for agreement, what the backtest measured on the decisions the change was
learned from (fitted) and what is expected on decisions it was not learned from, with the
range, and how the estimate was made.

It reads the stored evidence (:mod:`proposer.forecast`, :mod:`proposer.backtest.report`) and
recomputes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from proposer.backtest.report import trade_points
from proposer.choice import points
from review_app.proposals.evidence import part

__all__ = ["ForecastRow", "ForecastView", "forecast_view"]

METHODS = {
    "cross_validation": "the same induction learned again five times, each time without one "
    "fifth of the window (in decision order), and measured on that fifth; the backtest's "
    "figure less the optimism this showed",
    "time_split": "the same induction learned again on the older four fifths of the window "
    "and measured on the newest fifth; the backtest's figure less the optimism this showed",
}


@dataclass(frozen=True, slots=True)
class ForecastRow:
    """One figure: the backtest's change (fitted) and the expected one with its range."""

    label: str
    fitted: str
    expected: str
    low: str
    high: str


@dataclass(frozen=True, slots=True)
class ForecastView:
    """``available`` False: no estimate (``reason`` says why); the rows still show what the
    backtest measured."""

    available: bool
    reason: str
    method: str
    level: str
    rows: tuple[ForecastRow, ...]
    folds: int


def _estimate(forecast: Mapping[str, Any], name: str) -> tuple[str, str, str]:
    e = part(forecast, f"{name}_points")
    return tuple(  # type: ignore[return-value]
        points(float(e[k]), 2) if isinstance(e.get(k), int | float) else "—"
        for k in ("expected", "low", "high")
    )


def forecast_view(evidence: Mapping[str, Any] | None) -> ForecastView | None:
    """The estimate beside the backtest; None when there is no backtest either."""
    fitted = trade_points(part(evidence, "backtest"))
    forecast = part(evidence, "forecast")
    available = forecast.get("kind") == "out_of_sample_estimate"
    if fitted is None and not available:
        return None
    rows = []
    for n, (label, name) in enumerate(
        (
            ("Automation (points)", "automation"),
            ("Agreement of automated decisions (points)", "agreement"),
        )
    ):
        estimate = _estimate(forecast, name) if available else ("—", "—", "—")
        shown = "—" if fitted is None else points(fitted[n], 2)
        rows.append(ForecastRow(label, shown, *estimate))
    reason = (
        ""
        if available
        else "No out-of-sample estimate: only a change the deterministic proposer learned, as "
        "it learned it, has one. This change was written or edited by a person or a model, so "
        "no decisions were held out from it; the backtest is all there is, and it is in sample."
    )
    level = forecast.get("level")
    return ForecastView(
        available=available,
        reason=reason,
        method=METHODS.get(str(forecast.get("method")), ""),
        level=f"{level:.0%}" if isinstance(level, int | float) else "",
        rows=tuple(rows),
        folds=len(forecast.get("folds") or ()),
    )
