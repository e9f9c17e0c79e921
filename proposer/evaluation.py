"""What ``rulebook proposer evaluate`` found (:mod:`proposer.evaluate` says how): the frontier
table (each proposal's backtest, forecast and held-out change), the accepted proposals, the
figures before and after, calibration and the issue's acceptance figures, as JSON-ready data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from proposer.heldout import Decided, Figures, HeldOut, change
from proposer.records import ProposalRecord
from rules.core.document import Document
from rules.core.validate import leaves

__all__ = ["AcceptedProposal", "Evaluation", "FrontierRow", "protected_uses"]


def protected_uses(doc: Document) -> int:
    """How many conditions of ``doc``'s rules test a protected input."""
    protected = {i.name for i in doc.inputs if i.protected}
    return sum(1 for r in doc.rules for leaf, _ in leaves(r.when, "") if leaf.input in protected)


def _verdicts(record: ProposalRecord) -> tuple[int, int]:
    verdicts = (record.evidence or {}).get("citations", {}).get("verdicts", [])
    return len(verdicts), sum(1 for v in verdicts if v.get("verdict") == "verified")


def _rules(record: ProposalRecord) -> tuple[str, ...]:
    induced = (record.run or {}).get("induced", [])
    return tuple(f"{r['target']} when {' and '.join(r['conditions'])}" for r in induced)


@dataclass(frozen=True, slots=True)
class AcceptedProposal:
    """An accepted proposal: its operations as written (each ``add_rule`` at its position,
    applied in order to the version before), its rules readably (``approve when pirat ≤ 0.38
    and …``), who accepted it, and the citation verdicts of its evidence."""

    proposal_id: int
    version: int
    title: str
    role: str | None
    operations: tuple[dict[str, Any], ...]
    rules: tuple[str, ...]
    impact: str | None
    approvers: tuple[str, ...]
    citations: int  # verdicts in the proposal's evidence
    verified: int

    @classmethod
    def of(cls, record: ProposalRecord, number: int) -> AcceptedProposal:
        cited, verified = _verdicts(record)
        return cls(
            proposal_id=record.id,
            version=number,
            title=record.title,
            role=(record.run or {}).get("role"),
            operations=tuple(op.to_dict() for op in record.operations),
            rules=_rules(record),
            impact=record.impact,
            approvers=tuple(a.approver for a in record.approvals),
            citations=cited,
            verified=verified,
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def _inside(estimate: Mapping[str, float], value: float) -> bool:
    return float(estimate["low"]) <= value <= float(estimate["high"])


@dataclass(frozen=True, slots=True)
class FrontierRow:
    """One proposal of the first run: what its backtest measured (fitted), what its forecast
    expected (with the range), and what its candidate does to the held-out rows."""

    proposal_id: int
    title: str
    role: str | None
    recipe: Mapping[str, Any] | None
    operations: tuple[dict[str, Any], ...]
    rules: tuple[str, ...]
    impact: str | None
    citations: int
    verified: int
    protected_uses: int
    in_sample: Mapping[str, float]
    forecast: Mapping[str, Any] | None
    held_out: Figures

    @classmethod
    def of(cls, record: ProposalRecord, held: HeldOut) -> FrontierRow:
        cited, verified = _verdicts(record)
        forecast = (record.evidence or {}).get("forecast")
        estimate = None
        if isinstance(forecast, Mapping) and forecast.get("kind") == "out_of_sample_estimate":
            estimate = {
                "method": forecast["method"],
                "level": forecast["level"],
                "automation_points": dict(forecast["automation_points"]),
                "agreement_points": dict(forecast["agreement_points"]),
            }
        in_sample = (record.run or {}).get("in_sample", {})
        return cls(
            proposal_id=record.id,
            title=record.title,
            role=(record.run or {}).get("role"),
            recipe=(record.run or {}).get("recipe"),
            operations=tuple(op.to_dict() for op in record.operations),
            rules=_rules(record),
            impact=record.impact,
            citations=cited,
            verified=verified,
            protected_uses=protected_uses(record.candidate),
            in_sample={k: in_sample[k] for k in ("automation_points", "agreement_points")},
            forecast=estimate,
            held_out=Figures.of(held.decide(record.candidate), after=True),
        )

    def inside(self, before: Figures) -> dict[str, bool] | None:
        """Whether each held-out change fell inside the forecast's range."""
        if self.forecast is None:
            return None
        found = change(before, self.held_out)
        return {
            name: _inside(self.forecast[f"{name}_points"], found[f"{name}_points"])
            for name in ("automation", "agreement")
        }

    def to_dict(self, before: Figures) -> dict[str, Any]:
        return {
            "proposal_id": self.proposal_id,
            "title": self.title,
            "role": self.role,
            "recipe": None if self.recipe is None else dict(self.recipe),
            "operations": list(self.operations),
            "rules": list(self.rules),
            "impact": self.impact,
            "citations": {"verdicts": self.citations, "verified": self.verified},
            "protected_inputs_used": self.protected_uses,
            "in_sample": dict(self.in_sample),
            "forecast": None if self.forecast is None else dict(self.forecast),
            "held_out": {**self.held_out.to_dict(), **change(before, self.held_out)},
            "inside_range": self.inside(before),
        }


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What :func:`evaluate` did and measured."""

    file: str
    sha256: str
    ruleset: str
    history: int
    held_out: int
    rounds: int
    max_loss: float
    base: tuple[int, str]  # version number and hash
    final: tuple[int, str]
    frontier: tuple[FrontierRow, ...]
    accepted: tuple[AcceptedProposal, ...]
    before: Figures
    after: Figures
    protected: tuple[str, ...]
    decided: tuple[Decided, ...]
    timing: dict[str, float] = field(default_factory=dict)

    @property
    def verdicts(self) -> int:
        return sum(r.citations for r in self.frontier)

    @property
    def verified(self) -> int:
        return sum(r.verified for r in self.frontier)

    @property
    def protected_uses(self) -> int:
        return sum(r.protected_uses for r in self.frontier)

    def calibration(self) -> dict[str, int]:
        """How many held-out changes fell inside their forecast's range."""
        flags = [r.inside(self.before) for r in self.frontier]
        found = [f for f in flags if f is not None]
        return {
            "proposals": len(found),
            "intervals": 2 * len(found),
            "inside": sum(f["automation"] + f["agreement"] for f in found),
            "automation_inside": sum(f["automation"] for f in found),
            "agreement_inside": sum(f["agreement"] for f in found),
        }

    def acceptance(self) -> dict[str, Any]:
        """The issue's acceptance figures, on the held-out half."""
        rows = [(r, change(self.before, r.held_out)) for r in self.frontier]
        within = [(r, c) for r, c in rows if c["agreement_points"] >= -self.max_loss]
        best = max(within, key=lambda rc: (rc[1]["automation_points"], -rc[0].proposal_id))
        safe = [(r, c) for r, c in rows if r.role == "conservative"]
        return {
            "proposals": len(rows),
            "at_least_three": len(rows) >= 3,
            "best_within_ceiling": {
                "proposal_id": best[0].proposal_id,
                **best[1],
                "at_least_25_points": best[1]["automation_points"] >= 25,
            }
            if within
            else None,
            "conservative": [
                {"proposal_id": r.proposal_id, **c, "loses_nothing": c["agreement_points"] >= 0}
                for r, c in safe
            ],
        }

    def to_dict(self) -> dict[str, Any]:
        total = change(self.before, self.after)
        return {
            "file": self.file,
            "sha256": self.sha256,
            "ruleset": self.ruleset,
            "split": {"history": "odd case_id", "held_out": "even case_id"},
            "history_rows": self.history,
            "held_out_rows": self.held_out,
            "rounds": {"asked": self.rounds, "accepted": len(self.accepted)},
            "max_agreement_loss": self.max_loss,
            "base_version": {"number": self.base[0], "hash": self.base[1]},
            "final_version": {"number": self.final[0], "hash": self.final[1]},
            "frontier": [r.to_dict(self.before) for r in self.frontier],
            "calibration": self.calibration(),
            "acceptance": self.acceptance(),
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
            "automation_gain_points": total["automation_points"],
            "agreement_change_points": total["agreement_points"],
            "protected_inputs": list(self.protected),
            "protected_inputs_used": self.protected_uses,
            "citations": {"verdicts": self.verdicts, "verified": self.verified},
            "accepted": [a.to_dict() for a in self.accepted],
            "timing_s": {k: round(v, 3) for k, v in self.timing.items()},
            "decisions": [asdict(d) for d in self.decided],
        }
