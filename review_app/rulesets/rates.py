"""The ruleset page's picture of its decision log: the automation and exception rates per day
or week (counted by :func:`rules.store.decisions.rates.rates`) with each activation marked,
and the same numbers as table rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from review_app.pictures import RatesChart, rates_chart
from rules.store.decisions.rates import Bucket
from rules.store.versions import ActivationInfo

__all__ = ["RateRow", "RatesView", "rates_view"]


@dataclass(frozen=True, slots=True)
class RateRow:
    period: str  # "2026-03-02" or "week of 2026-03-02"
    decisions: int
    automation: str  # "81.3%"
    exceptions: str
    activated: str  # "version 2" when one was activated in the period, else ""


@dataclass(frozen=True, slots=True)
class RatesView:
    by: str  # "day" or "week"
    chart: RatesChart | None
    rows: tuple[RateRow, ...]

    @property
    def desc(self) -> str:
        """The picture's text alternative: first and last period, and the activations."""
        first, last = self.rows[0], self.rows[-1]
        said = (
            f"{len(self.rows)} {self.by}s from {first.period} to {last.period}. First: "
            f"{first.automation} automated, {first.exceptions} exceptions of "
            f"{first.decisions:,} decisions. Last: {last.automation} automated, "
            f"{last.exceptions} exceptions of {last.decisions:,} decisions."
        )
        marked = [f"{r.activated} on {r.period}" for r in self.rows if r.activated]
        return said + (f" Activated: {'; '.join(marked)}." if marked else "")


def _row(bucket: Bucket, by: str, activations: Sequence[ActivationInfo]) -> RateRow:
    day = bucket.start.date().isoformat()
    inside = [a for a in activations if bucket.start <= a.at < bucket.end]
    return RateRow(
        period=day if by == "day" else f"week of {day}",
        decisions=bucket.decisions,
        automation=f"{bucket.automation_rate:.1%}",
        exceptions=f"{bucket.exception_rate:.1%}",
        activated=", ".join(f"version {a.number}" for a in inside),
    )


def rates_view(buckets: Sequence[Bucket], activations: Sequence[ActivationInfo]) -> RatesView:
    """The picture and rows of ``buckets`` (oldest first), activations marked."""
    by = "week" if buckets and (buckets[0].end - buckets[0].start).days == 7 else "day"
    chart = rates_chart(buckets, [(a.at, a.number) for a in activations])
    return RatesView(by, chart, tuple(_row(b, by, activations) for b in buckets))
