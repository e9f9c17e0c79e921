"""What a backtest reports, and the tally that builds it case by case in constant memory.

Definitions (each case is one logged decision, evaluated under the base and the candidate):

* **changed**: the candidate's outputs differ from the base's (``!=`` on the outputs value: a
  dict for single-hit results, a list of rows for multi-hit ones, None for no result).
* **transitions**: per output, ``{base value: {candidate value: cases}}`` over every replayed
  case, unchanged ones included (the diagonal). A value is labelled as text: a string as
  itself, anything else as JSON (``true``, ``0.5``, ``null``), a multi-hit result as the JSON
  list of its rows' values, ``(no result)`` when there are no outputs (no match without
  defaults, a hit-policy error, facts the document does not accept). At most ``MAX_CELLS``
  distinct cells are kept per output; cases beyond them count under ``(other)``.
* **agreement**: among cases with a human resolution (the latest one), a result agrees when it
  is a single-hit result (a dict) and every output the resolution names has the resolved value
  in it (``outputs[k] == v`` for each resolved ``k, v``); a multi-hit list or a null result
  never agrees. ``agree_before``/``agree_after`` count agreeing cases under base/candidate.
* **exceptions**: cases whose result is an exception (a review value, no result, an error);
  ``errors`` are the cases whose stored facts the document does not accept (counted as
  exceptions with no result too).
* **automated**: cases whose result is not an exception, and among them those with a *known
  outcome* (the resolution's review output, else, for a decision that was not an exception,
  the review output it was decided with) and those whose review output is that outcome:
  ``agreement_rate`` is agreed / known, before and after (100% when nothing is known). This
  is the agreement :mod:`proposer.trade` and ``rulebook proposer evaluate`` measure, and the
  one the proposer's ceiling on agreement loss applies to.
* **mismatches**: cases where the base's replay differs from the stored decision (outputs,
  deciding rules, matched rules or exception flag). The base is the version the backtest
  compares against, not necessarily the one that decided: a window that spans other versions
  has mismatches for every case those versions decided differently (``other_versions`` counts
  the cases not decided by the base version, when the base is a stored version).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from proposer.backtest.window import Window

__all__ = [
    "MAX_CELLS",
    "NO_RESULT",
    "OTHER",
    "Backtest",
    "ChangedDecision",
    "label",
    "rate",
    "trade_points",
]

MAX_CELLS = 1000
NO_RESULT = "(no result)"
OTHER = "(other)"

Matrix = dict[str, dict[str, dict[str, int]]]


def label(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def trade_points(report: Mapping[str, Any] | None) -> tuple[float, float] | None:
    """(automation, agreement of automated decisions) gained, in points, from a backtest
    report's ``to_dict()`` form; None for a report without them (stored before they were)."""
    automated = (report or {}).get("automated")
    cases = (report or {}).get("cases")
    if not isinstance(automated, Mapping) or not cases:
        return None
    automation = 100 * (automated["after"] - automated["before"]) / cases
    before = automated["agreement_before_rate"]
    after = automated["agreement_after_rate"]
    return automation, 100 * (after - before)


def rate(part: int, whole: int, empty: float | None = None) -> float | None:
    return round(part / whole, 6) if whole else empty


@dataclass(frozen=True, slots=True)
class ChangedDecision:
    """One decision the candidate decides differently, with its human resolution, if any."""

    decision_id: int
    base: Any
    candidate: Any
    resolution: Mapping[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "base": self.base,
            "candidate": self.candidate,
            "resolution": None if self.resolution is None else dict(self.resolution),
        }


@dataclass(frozen=True, slots=True)
class Backtest:
    """A backtest of ``candidate_hash`` against ``base_hash`` over a window of the log."""

    ruleset: str
    base_version: int | None
    base_hash: str
    candidate_hash: str
    window: Window
    cases: int
    changed: int
    transitions: Matrix
    resolved: int
    agree_before: int
    agree_after: int
    exceptions_before: int
    exceptions_after: int
    errors_before: int
    errors_after: int
    known_before: int
    known_after: int
    agreed_before: int
    agreed_after: int
    mismatches: int
    other_versions: int
    changed_decisions: tuple[ChangedDecision, ...]
    keep: int

    def to_dict(self) -> dict[str, Any]:
        n, r = self.cases, self.resolved
        return {
            "ruleset": self.ruleset,
            "base": {"version": self.base_version, "hash": self.base_hash},
            "candidate": {"hash": self.candidate_hash},
            "window": self.window.to_dict(),
            "cases": n,
            "changed": self.changed,
            "changed_rate": rate(self.changed, n),
            "transitions": self.transitions,
            "agreement": {
                "resolved": r,
                "before": self.agree_before,
                "after": self.agree_after,
                "before_rate": rate(self.agree_before, r),
                "after_rate": rate(self.agree_after, r),
            },
            "exceptions": {
                "before": self.exceptions_before,
                "after": self.exceptions_after,
                "before_rate": rate(self.exceptions_before, n),
                "after_rate": rate(self.exceptions_after, n),
            },
            "errors": {"before": self.errors_before, "after": self.errors_after},
            "automated": {
                "before": n - self.exceptions_before,
                "after": n - self.exceptions_after,
                "known_before": self.known_before,
                "known_after": self.known_after,
                "agreed_before": self.agreed_before,
                "agreed_after": self.agreed_after,
                "agreement_before_rate": rate(self.agreed_before, self.known_before, empty=1.0),
                "agreement_after_rate": rate(self.agreed_after, self.known_after, empty=1.0),
            },
            "replay": {"mismatches": self.mismatches, "other_versions": self.other_versions},
            "changed_decisions": {
                "total": self.changed,
                "shown": len(self.changed_decisions),
                "limit": self.keep,
                "items": [c.to_dict() for c in self.changed_decisions],
            },
        }


class Matrices:
    """Transition counts: pairs of (base, candidate) labels tallied per case, folded into the
    per-output matrices every ``fold`` distinct pairs so memory stays bounded."""

    def __init__(self, outputs: tuple[str, ...], fold: int = 10_000) -> None:
        self.outputs = outputs
        self.pairs: Counter[tuple[tuple[str, ...], tuple[str, ...]]] = Counter()
        self.matrix: Matrix = {name: {} for name in outputs}
        self.cells = dict.fromkeys(outputs, 0)
        self.fold = fold

    def add(self, base: tuple[str, ...], candidate: tuple[str, ...]) -> None:
        self.pairs[base, candidate] += 1
        if len(self.pairs) > self.fold:
            self._fold()

    def _fold(self) -> None:
        for (base, candidate), count in self.pairs.items():
            for name, b, c in zip(self.outputs, base, candidate, strict=True):
                row = self.matrix[name].get(b)
                if row is None or c not in row:
                    if self.cells[name] >= MAX_CELLS:
                        b, c = OTHER, OTHER
                        row = self.matrix[name].get(b)
                    else:
                        self.cells[name] += 1
                if row is None:
                    row = self.matrix[name][b] = {}
                row[c] = row.get(c, 0) + count
        self.pairs.clear()

    def result(self) -> Matrix:
        self._fold()
        return {
            name: {b: dict(sorted(row.items())) for b, row in sorted(rows.items())}
            for name, rows in self.matrix.items()
        }


def labels(outputs: Any, names: tuple[str, ...]) -> tuple[str, ...]:
    """Each output's label in a result (see the module)."""
    if isinstance(outputs, dict):
        return tuple(label(outputs.get(n)) for n in names)
    if isinstance(outputs, list):
        return tuple(label([r.get(n) for r in outputs]) for n in names)
    return (NO_RESULT,) * len(names)
