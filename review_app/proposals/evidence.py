"""The evidence the system attached to a proposal, as rows a page shows: citations, static
checks, scope and impact (the backtest's figures are in :mod:`review_app.proposals.backtest`).

Everything here reads the stored ``evidence`` mapping (see :mod:`proposer.evidence`) and
never recomputes it: the dossier shows what the system found when the candidate was made.
Missing parts (an old or partial record) read as empty, never as an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CheckRow",
    "CitationRow",
    "Citations",
    "ImpactView",
    "ScopeView",
    "checks",
    "citations",
    "count",
    "impact_view",
    "outputs_text",
    "part",
    "percent",
    "plain",
    "scope_view",
]


def percent(rate: object) -> str:
    """``0.0525`` as ``5.3%``; ``—`` when there is no rate (nothing to divide by)."""
    return f"{rate:.1%}" if isinstance(rate, int | float) else "—"


def outputs_text(value: Any) -> str:
    """A decision's outputs in one line: ``outcome: approve · reason: Clean``."""
    if value is None:
        return "(no result)"
    if isinstance(value, Mapping):
        return " · ".join(f"{k}: {plain(v)}" for k, v in value.items()) or "(no outputs)"
    if isinstance(value, list):
        return " | ".join(outputs_text(row) for row in value) or "(no rule matched)"
    return plain(value)


def plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def part(data: Mapping[str, Any] | None, key: str) -> Mapping[str, Any]:
    found = (data or {}).get(key)
    return found if isinstance(found, Mapping) else {}


def count(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    return int(value) if isinstance(value, int | float) else 0


# --------------------------------------------------------------------------- citations


@dataclass(frozen=True, slots=True)
class CitationRow:
    decision_id: int
    verdict: str
    verified: bool
    explanation: str
    base: str
    candidate: str
    resolution: str


@dataclass(frozen=True, slots=True)
class Citations:
    verified: int
    total: int
    rows: tuple[CitationRow, ...]


def citations(evidence: Mapping[str, Any] | None) -> Citations:
    """The verdict on each cited decision."""
    data = part(evidence, "citations")
    rows = tuple(
        CitationRow(
            decision_id=int(v.get("decision_id", 0)),
            verdict=str(v.get("verdict", "")).replace("_", " "),
            verified=v.get("verdict") == "verified",
            explanation=str(v.get("explanation", "")),
            base=outputs_text(v.get("base")) if v.get("base") is not None else "—",
            candidate=outputs_text(v.get("candidate")) if v.get("candidate") is not None else "—",
            resolution=outputs_text(v.get("resolution")) if v.get("resolution") else "—",
        )
        for v in data.get("verdicts", [])
        if isinstance(v, Mapping)
    )
    return Citations(count(data, "verified"), count(data, "total"), rows)


# --------------------------------------------------------------------------- checks, scope, impact


@dataclass(frozen=True, slots=True)
class CheckRow:
    code: str
    severity: str
    location: str
    message: str


def checks(evidence: Mapping[str, Any] | None) -> tuple[CheckRow, ...]:
    """The static check findings of the candidate (warnings and notes: errors never get here)."""
    found = (evidence or {}).get("checks") or []
    return tuple(
        CheckRow(
            str(p.get("code", "")),
            str(p.get("severity", "")),
            str(p.get("location") or "the document"),
            str(p.get("message", ""))
            + (f" (did you mean {p['suggestion']!r}?)" if p.get("suggestion") else ""),
        )
        for p in found
        if isinstance(p, Mapping)
    )


@dataclass(frozen=True, slots=True)
class ScopeView:
    added: tuple[str, ...]
    updated: tuple[str, ...]
    removed: tuple[str, ...]
    moved: tuple[str, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def scope_view(evidence: Mapping[str, Any] | None) -> ScopeView | None:
    data = part(evidence, "scope")
    if not data:
        return None

    def names(key: str) -> tuple[str, ...]:
        return tuple(str(n) for n in data.get(key) or ())

    return ScopeView(
        added=names("added"),
        updated=names("updated"),
        removed=names("removed"),
        moved=names("moved"),
        inputs=names("inputs"),
        outputs=names("outputs"),
    )


@dataclass(frozen=True, slots=True)
class ImpactView:
    level: str
    reasons: tuple[tuple[str, str], ...]
    output: str
    changed: int
    cases: int
    rule: str


def impact_view(evidence: Mapping[str, Any] | None, level: str | None) -> ImpactView | None:
    data = part(evidence, "impact")
    if not data:
        return None
    limits = part(data, "thresholds")
    share = limits.get("max_changed_share")
    rule = (
        f"High when more than {percent(share)} or more than "
        f"{count(limits, 'max_changed'):,} backtested decisions change their "
        f"{data.get('output', 'outcome')}, when agreement with people falls, when a rule is "
        "removed, or when there is no decision to backtest."
    )
    reasons = tuple(
        (str(r.get("code", "")), str(r.get("message", "")))
        for r in data.get("reasons") or ()
        if isinstance(r, Mapping)
    )
    return ImpactView(
        level=str(level or data.get("level") or "unknown"),
        reasons=reasons,
        output=str(data.get("output", "")),
        changed=count(data, "changed"),
        cases=count(data, "cases"),
        rule=rule,
    )
