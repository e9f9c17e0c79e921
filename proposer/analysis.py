"""Exception analysis: a ruleset's exceptions and overrides grouped into patterns worth a rule.

The input is a list of :class:`Case` (one logged decision with its human resolution, if any);
the output an :class:`Analysis` with two groupings of the exceptions and overrides:

* ``by_rule``: by the rules that decided them (``no rule`` when the defaults did);
* ``by_transition``: by the review output's value as the engine gave it and as the person
  resolved it (``refer → approve``; ``refer → (unresolved)`` for open exceptions).

Every pattern carries its size, its share of all exceptions and overrides, a bounded sample of
its decision ids (with the full count), how consistent its resolutions are, and its region of
the input space: per input, the observed range or values (``pirat 0.18-0.33, chist 1-2``,
written with an en dash). Protected and PII inputs never appear in a region. Everything is
sorted, so the same cases give the same analysis, byte for byte.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from proposer.cases import Case, engine_value, resolved_value, review_output
from rules.core.document import Document, Input, Scalar

__all__ = ["SAMPLE", "Analysis", "Case", "InputRegion", "Pattern", "Transition", "analyse"]

SAMPLE = 20  # decision ids listed per pattern (the count is always given in full)
FEW_VALUES = 10  # at most this many distinct values are listed value by value
NO_RULE = "no rule"
_DASH = "\u2013"  # an en dash, as in "pirat 0.18 to 0.33" typeset


@dataclass(frozen=True, slots=True)
class Transition:
    """The review output's value as decided (None: no result) and as resolved (None: open)."""

    engine: Scalar | None
    resolved: Scalar | None

    @property
    def label(self) -> str:
        engine = "(no result)" if self.engine is None else str(self.engine)
        resolved = "(unresolved)" if self.resolved is None else str(self.resolved)
        return f"{engine} → {resolved}"

    def to_dict(self) -> dict[str, Any]:
        return {"engine": self.engine, "resolved": self.resolved, "label": self.label}


@dataclass(frozen=True, slots=True)
class InputRegion:
    """What one input looked like across a pattern's cases."""

    input: str
    type: str
    present: int
    missing: int
    low: Scalar | None = None
    high: Scalar | None = None
    median: Scalar | None = None
    values: tuple[tuple[Scalar, int], ...] = ()  # (value, count) when there are few values

    @property
    def summary(self) -> str:
        if not self.present:
            return f"{self.input} missing"
        if self.type in ("number", "integer"):
            low, high = _fmt(self.low), _fmt(self.high)
            return f"{self.input} {low}" if low == high else f"{self.input} {low}{_DASH}{high}"
        if len(self.values) == 1:
            return f"{self.input} {_fmt(self.values[0][0])}"
        listed = ", ".join(f"{_fmt(v)} ({n})" for v, n in self.values)
        return f"{self.input} {listed or 'various'}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "type": self.type,
            "present": self.present,
            "missing": self.missing,
            "low": self.low,
            "high": self.high,
            "median": self.median,
            "values": [{"value": v, "count": n} for v, n in self.values],
            "summary": self.summary,
        }


@dataclass(frozen=True, slots=True)
class Pattern:
    """A group of exceptions and overrides. ``transition`` is the group's own (``by_transition``)
    or its most common one (``by_rule``); ``consistency`` is the share of its resolved cases
    that went the same way (``by_rule``: to the most common resolved value; ``by_transition``:
    of all resolved cases with the same engine value, the share resolved to this one)."""

    kind: str  # "rule" | "transition"
    label: str
    rule_ids: tuple[str, ...] | None
    transition: Transition
    size: int
    share: float
    decision_ids: tuple[int, ...]
    resolved: int
    consistency: float | None
    resolutions: tuple[tuple[str, int], ...]
    region: tuple[InputRegion, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "rule_ids": list(self.rule_ids) if self.rule_ids is not None else None,
            "transition": self.transition.to_dict(),
            "size": self.size,
            "share": round(self.share, 4),
            "decision_ids": list(self.decision_ids),
            "decision_count": self.size,
            "resolved": self.resolved,
            "consistency": None if self.consistency is None else round(self.consistency, 4),
            "resolutions": [{"value": v, "count": n} for v, n in self.resolutions],
            "region": [r.to_dict() for r in self.region],
            "region_summary": ", ".join(r.summary for r in self.region),
        }


@dataclass(frozen=True, slots=True)
class Analysis:
    ruleset: str
    review_output: str
    decisions: int
    exceptions: int
    overrides: int
    resolved: int
    by_rule: tuple[Pattern, ...]
    by_transition: tuple[Pattern, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ruleset": self.ruleset,
            "review_output": self.review_output,
            "decisions": self.decisions,
            "exceptions": self.exceptions,
            "overrides": self.overrides,
            "resolved": self.resolved,
            "by_rule": [p.to_dict() for p in self.by_rule],
            "by_transition": [p.to_dict() for p in self.by_transition],
        }


def analyse(doc: Document, cases: Iterable[Case]) -> Analysis:
    """Group ``doc``'s exceptions and overrides among ``cases`` into patterns (module doc)."""
    output = review_output(doc)
    review = doc.review.values if doc.review is not None else ()
    seen = exceptions = overrides = 0
    flagged: list[tuple[Case, Transition]] = []
    for case in cases:
        seen += 1
        if not (case.exception or case.override):
            continue
        exceptions += case.exception
        overrides += not case.exception
        found = Transition(engine_value(case.outputs, output, review), resolved_value(case, output))
        flagged.append((case, found))
    flagged.sort(key=lambda item: item[0].decision_id)
    total = len(flagged)
    regions = [i for i in doc.inputs if not (i.protected or i.pii)]
    by_rule: dict[tuple[str, ...], list[tuple[Case, Transition]]] = {}
    by_transition: dict[Transition, list[tuple[Case, Transition]]] = {}
    for item in flagged:
        by_rule.setdefault(item[0].rule_ids, []).append(item)
        by_transition.setdefault(item[1], []).append(item)
    resolved_from = Counter(t.engine for _, t in flagged if t.resolved is not None)
    rule_patterns = [_rule_pattern(k, v, total, regions) for k, v in by_rule.items()]
    transition_patterns = [
        _transition_pattern(t, v, total, resolved_from[t.engine], regions)
        for t, v in by_transition.items()
    ]
    return Analysis(
        ruleset=doc.name,
        review_output=output,
        decisions=seen,
        exceptions=exceptions,
        overrides=overrides,
        resolved=sum(1 for _, t in flagged if t.resolved is not None),
        by_rule=tuple(sorted(rule_patterns, key=_order)),
        by_transition=tuple(sorted(transition_patterns, key=_order)),
    )


def _order(pattern: Pattern) -> tuple[int, str]:
    return (-pattern.size, pattern.label)


def _value_key(value: object) -> tuple[str, str]:
    """A total order over mixed scalars (and None) for deterministic sorting."""
    return (type(value).__name__, repr(value))


def _rule_pattern(
    rule_ids: tuple[str, ...],
    items: list[tuple[Case, Transition]],
    total: int,
    inputs: Sequence[Input],
) -> Pattern:
    transitions = Counter(t for _, t in items)
    dominant = min(transitions, key=lambda t: (-transitions[t], _value_key(t.label)))
    resolutions = Counter(str(t.resolved) for _, t in items if t.resolved is not None)
    resolved = sum(resolutions.values())
    return Pattern(
        kind="rule",
        label=", ".join(rule_ids) if rule_ids else NO_RULE,
        rule_ids=rule_ids,
        transition=dominant,
        size=len(items),
        share=len(items) / total,
        decision_ids=tuple(c.decision_id for c, _ in items[:SAMPLE]),
        resolved=resolved,
        consistency=max(resolutions.values()) / resolved if resolved else None,
        resolutions=_counted(resolutions),
        region=tuple(_region(spec, [c for c, _ in items]) for spec in inputs),
    )


def _transition_pattern(
    transition: Transition,
    items: list[tuple[Case, Transition]],
    total: int,
    resolved_from: int,
    inputs: Sequence[Input],
) -> Pattern:
    resolved = len(items) if transition.resolved is not None else 0
    return Pattern(
        kind="transition",
        label=transition.label,
        rule_ids=None,
        transition=transition,
        size=len(items),
        share=len(items) / total,
        decision_ids=tuple(c.decision_id for c, _ in items[:SAMPLE]),
        resolved=resolved,
        consistency=resolved / resolved_from if resolved else None,
        resolutions=((str(transition.resolved), resolved),) if resolved else (),
        region=tuple(_region(spec, [c for c, _ in items]) for spec in inputs),
    )


def _counted(counts: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _region(spec: Input, cases: Sequence[Case]) -> InputRegion:
    values = [c.facts.get(spec.name) for c in cases]
    present = [v for v in values if v is not None]
    missing = len(values) - len(present)
    counts = Counter(present)
    listed: tuple[tuple[Scalar, int], ...] = ()
    if len(counts) <= FEW_VALUES:
        listed = tuple(sorted(counts.items(), key=lambda kv: (-kv[1], _value_key(kv[0]))))
    if spec.type not in ("number", "integer") or not present:
        return InputRegion(spec.name, spec.type, len(present), missing, values=listed)
    numbers = sorted(v for v in present if isinstance(v, int | float) and not isinstance(v, bool))
    if not numbers:
        return InputRegion(spec.name, spec.type, len(present), missing, values=listed)
    return InputRegion(
        spec.name,
        spec.type,
        len(present),
        missing,
        low=numbers[0],
        high=numbers[-1],
        median=numbers[(len(numbers) - 1) // 2],
        values=listed if spec.type == "integer" else (),
    )


def _fmt(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
