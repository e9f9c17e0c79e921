"""What the dossier's pictures and its summary card show, read from the stored evidence:
the backtest's before/after measures, the frontier of the proposer run that made the
proposal, and the card at the top of the page (what changes, the expected trade, checks,
citations). Nothing is recomputed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from proposer import ProposalRecord
from proposer.backtest.report import trade_points
from proposer.choice import points
from review_app.pictures import BarChart, Measure, Offer, Scatter, before_after, frontier
from review_app.proposals.evidence import part

__all__ = [
    "FrontierRow",
    "FrontierView",
    "Trade",
    "backtest_chart",
    "backtest_measures",
    "frontier_view",
    "trade",
]


def _rate(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    return 100 * float(value) if isinstance(value, int | float) else None


def backtest_measures(evidence: Mapping[str, Any] | None) -> tuple[Measure, ...]:
    """Automation, agreement and exception rate (percent) under the base and the candidate;
    none without a backtest."""
    report = part(evidence, "backtest")
    cases = report.get("cases")
    if not report or not isinstance(cases, int) or not cases:
        return ()
    automated = part(report, "automated")

    def share(key: str) -> float | None:
        value = automated.get(key)
        return 100 * value / cases if isinstance(value, int | float) else None

    return (
        Measure("Automation", share("before"), share("after")),
        Measure(
            "Agreement with people",
            _rate(part(report, "agreement"), "before_rate"),
            _rate(part(report, "agreement"), "after_rate"),
        ),
        Measure(
            "Exception rate",
            _rate(part(report, "exceptions"), "before_rate"),
            _rate(part(report, "exceptions"), "after_rate"),
        ),
    )


def backtest_chart(evidence: Mapping[str, Any] | None) -> BarChart | None:
    return before_after(backtest_measures(evidence))


@dataclass(frozen=True, slots=True)
class Trade:
    """Automation gained and agreement lost, in points; ``basis``: ``expected`` (the
    out-of-sample forecast) or ``backtest`` (fitted, when there is no forecast)."""

    gain: float
    loss: float
    basis: str

    @property
    def gain_text(self) -> str:
        return points(self.gain, 2)

    @property
    def loss_text(self) -> str:
        return points(self.loss, 2)


def trade(evidence: Mapping[str, Any] | None) -> Trade | None:
    """The expected trade when a forecast is attached, else the backtest's; None without
    either."""
    forecast = part(evidence, "forecast")
    if forecast.get("kind") == "out_of_sample_estimate":
        gain = part(forecast, "automation_points").get("expected")
        change = part(forecast, "agreement_points").get("expected")
        if isinstance(gain, int | float) and isinstance(change, int | float):
            return Trade(float(gain), -float(change) + 0.0, "expected")
    fitted = trade_points(part(evidence, "backtest"))
    if fitted is None:
        return None
    return Trade(fitted[0], -fitted[1] + 0.0, "backtest")


@dataclass(frozen=True, slots=True)
class FrontierRow:
    proposal_id: int
    title: str
    role: str
    status: str
    href: str
    current: bool
    trade: Trade


@dataclass(frozen=True, slots=True)
class FrontierView:
    """The run's proposals (in the order the run ranked them) and the picture of them."""

    rows: tuple[FrontierRow, ...]
    chart: Scatter | None
    ceiling: float | None

    @property
    def ceiling_text(self) -> str:
        return "—" if self.ceiling is None else f"{self.ceiling:g}"


def frontier_view(
    record: ProposalRecord, run: Sequence[ProposalRecord], href: Callable[[int], str]
) -> FrontierView | None:
    """The frontier of the run that made ``record``; None when the run made only it."""
    if len(run) < 2:
        return None
    rows = []
    for p in sorted(run, key=lambda p: ((p.run or {}).get("rank") or 0, p.id)):
        found = trade(p.evidence)
        if found is not None:
            role = str((p.run or {}).get("role") or "")
            rows.append(
                FrontierRow(p.id, p.title, role, p.status, href(p.id), p.id == record.id, found)
            )
    ceiling = (record.run or {}).get("max_agreement_loss")
    limit = float(ceiling) if isinstance(ceiling, int | float) else None
    offers = [
        Offer(r.proposal_id, r.title, r.trade.gain, r.trade.loss, r.href, r.current) for r in rows
    ]
    return FrontierView(tuple(rows), frontier(offers, limit), limit)
