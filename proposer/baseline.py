"""The deterministic proposer: rules induced from resolved exceptions, as proposals with
evidence (DESIGN §5: with no model configured, it does the job, so the product works offline).

The pipeline, for ruleset ``name``:

1. stream the logged cases in the window (default: all of the log) from
   :mod:`rules.store.decision_log`;
2. :func:`proposer.analysis.analyse` them (the rationale names the pattern a rule answers);
3. :func:`proposer.induce.induce` candidate rules for each value of the review output that is
   not itself a review value (``approve`` and ``decline`` when ``refer`` is reviewed), in the
   output's order (never on a protected or PII input: induction never offers one, and the
   candidate's static checks would refuse a protected one);
4. make each candidate an ``add_rule`` at its position on the latest version, citing the cases
   it fixes, and let the system attach evidence (:func:`proposer.drafting.draft`);
5. rank by what it gains at what risk, from the backtest and the induction:
   ``gain = agreement gained + exceptions automated``, ``risk = harms + agreement lost``;
   best ``gain - risk`` first, then lower risk, fewer changed decisions, then rule id;
6. record the best ``limit`` as draft proposals by author ``baseline``, skipping any whose
   candidate an open proposal already has.

Everything is sorted and nothing is random or timed: the same log gives the same proposals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from proposer.analysis import Analysis, analyse
from proposer.backtest import Window
from proposer.cases import Case, review_output
from proposer.drafting import MAX_ACTOR, Draft, draft, text_field
from proposer.errors import InvalidProposalError
from proposer.evidence import ImpactThresholds
from proposer.induce import Candidate, induce
from proposer.operations import AddRule
from proposer.proposals import open_duplicate, record_draft
from proposer.records import ProposalRecord
from rules.core.document import Document, Scalar
from rules.errors import Problem
from rules.store.decision_log import stream_cases
from rules.store.versions import get_ruleset, get_version

__all__ = [
    "AUTHOR",
    "INDUCTION_SETTINGS",
    "MAX_LIMIT",
    "Ranked",
    "baseline_drafts",
    "propose_baseline",
]

AUTHOR = "baseline"
MAX_LIMIT = 50
INDUCTION_SETTINGS = (
    "min_support",
    "min_precision",
    "novel_precision",
    "caution",
    "max_conditions",
    "max_rules",
    "beam",
    "widen",
)


@dataclass(frozen=True, slots=True)
class Ranked:
    """An induced candidate made into a checked draft, with its rank figures."""

    candidate: Candidate
    draft: Draft
    gain: int
    risk: int
    title: str
    rationale: str

    @property
    def score(self) -> int:
        return self.gain - self.risk

    def run(self, rank: int, cases: int) -> dict[str, Any]:
        """The run record stored with the proposal: what was induced, from what, and how it
        ranked."""
        return {
            "proposer": AUTHOR,
            "window": self.draft.evidence.window.to_dict(),
            "cases": cases,
            "induced": self.candidate.to_dict(),
            "rank": rank,
            "gain": self.gain,
            "risk": self.risk,
            "score": self.score,
        }


def _targets(doc: Document, cases: Sequence[Case]) -> list[Scalar]:
    output = review_output(doc)
    review = set(doc.review.values) if doc.review is not None else set()
    spec = doc.output(output)
    if spec is not None and spec.values is not None:
        return [v for v in spec.values if v not in review]
    seen = {c.resolution.get(output) for c in cases if c.resolution is not None}
    found = [v for v in seen if v is not None and v not in review]
    return sorted(found, key=lambda v: (type(v).__name__, repr(v)))


def _pattern_text(analysis: Analysis, target: Scalar) -> str:
    patterns = [p for p in analysis.by_transition if p.transition.resolved == target]
    if not patterns:
        return f"No exception pattern of the log was resolved as {target}."
    top = patterns[0]
    consistency = (
        f"; {top.consistency:.0%} of the resolved cases the rules decided "
        f"{top.transition.engine} went this way"
        if top.consistency is not None
        else ""
    )
    return (
        f"Pattern {top.label}: {top.size:,} of the {analysis.exceptions + analysis.overrides:,} "
        f"exceptions and overrides in {analysis.decisions:,} logged decisions{consistency}."
    )


def _rationale(doc: Document, candidate: Candidate, analysis: Analysis, found: Draft) -> str:
    output = review_output(doc)
    where = f"before {candidate.before}" if candidate.before else "after the last rule"
    report, impact = found.evidence.backtest, found.evidence.impact
    return " ".join(
        [
            _pattern_text(analysis, candidate.target),
            f"This rule sets {output} to {candidate.target} when "
            f"{' and '.join(candidate.conditions)}; it goes {where} (position "
            f"{candidate.position}).",
            f"On the logged cases it changes {candidate.support:,} toward what the person chose "
            f"and {candidate.harms:,} away from it (precision {candidate.precision:.1%}); "
            f"it would decide {candidate.covered:,} of them.",
            f"The backtest changes the {output} of {impact.changed:,} of {report.cases:,} "
            f"decisions (any output of {report.changed:,}); agreement with resolutions goes "
            f"from {report.agree_before:,} to {report.agree_after:,}, exceptions from "
            f"{report.exceptions_before:,} to {report.exceptions_after:,}.",
            f"It cites the first {len(candidate.decision_ids):,} of the {candidate.support:,} "
            "cases it fixes.",
        ]
    )


def _title(doc: Document, candidate: Candidate) -> str:
    text = f"{str(candidate.target).capitalize()} when {' and '.join(candidate.conditions)}"
    return text if len(text) <= 200 else text[:199] + "\u2026"


def _rank(doc: Document, candidate: Candidate, analysis: Analysis, found: Draft) -> Ranked:
    report = found.evidence.backtest
    agreement = report.agree_after - report.agree_before
    automated = report.exceptions_before - report.exceptions_after
    return Ranked(
        candidate=candidate,
        draft=found,
        gain=agreement + automated,
        risk=candidate.harms + max(0, -agreement),
        title=_title(doc, candidate),
        rationale=_rationale(doc, candidate, analysis, found),
    )


def _sort_key(item: Ranked) -> tuple[int, int, int, str]:
    return (-item.score, item.risk, item.draft.evidence.backtest.changed, item.candidate.rule.id)


def _sensitive(doc: Document, found: Draft) -> bool:
    hidden = {i.name for i in doc.inputs if i.protected or i.pii}
    return bool(hidden & set(found.evidence.scope.inputs))


def baseline_drafts(
    session: Session,
    name: str,
    *,
    window: Window | None = None,
    thresholds: ImpactThresholds | None = None,
    induction: Mapping[str, Any] | None = None,
) -> tuple[list[Ranked], int]:
    """Every candidate the log supports, drafted on the latest version and ranked (best
    first), and the number of cases learned from. Writes nothing."""
    window = window or Window()
    base = get_ruleset(session, name).latest_number
    doc = get_version(session, name, base).document
    logged = stream_cases(
        session,
        name,
        after=window.after,
        before=window.before,
        since=window.since,
        until=window.until,
        last=window.last,
    )
    cases = [Case.from_logged(c) for c in logged]
    analysis = analyse(doc, cases)
    ranked: list[Ranked] = []
    for target in _targets(doc, cases):
        for candidate in induce(doc, cases, target, **dict(induction or {})):
            ops = [AddRule(candidate.rule, candidate.position)]
            try:
                found = draft(
                    session,
                    name,
                    ops,
                    list(candidate.decision_ids),
                    base=base,
                    window=window,
                    thresholds=thresholds,
                )
            except InvalidProposalError:
                continue  # e.g. an overlap under UNIQUE the cases did not show
            if not _sensitive(doc, found):
                ranked.append(_rank(doc, candidate, analysis, found))
    return sorted(ranked, key=_sort_key), len(cases)


def propose_baseline(
    session: Session,
    name: str,
    *,
    limit: int = 5,
    window: Window | str | None = None,
    actor: str,
    thresholds: ImpactThresholds | None = None,
    induction: Mapping[str, Any] | None = None,
) -> list[ProposalRecord]:
    """Run the deterministic proposer on ruleset ``name`` and record its best ``limit``
    proposals as drafts (author ``baseline``), best first; none when the log supports none.
    ``induction`` overrides :func:`proposer.induce.induce`'s settings (``INDUCTION_SETTINGS``)."""
    problems: list[Problem] = []
    text_field(actor, "actor", problems, limit=MAX_ACTOR)
    unknown = sorted(set(induction or {}) - set(INDUCTION_SETTINGS))
    if unknown:
        problems.append(
            Problem(
                "RB940",
                f"induction.{unknown[0]}",
                f"not an induction setting: use {', '.join(INDUCTION_SETTINGS)}",
            )
        )
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        problems.append(
            Problem("RB940", "limit", f"give a limit from 1 to {MAX_LIMIT}, not {limit!r}")
        )
    if problems:
        raise InvalidProposalError("the proposer's settings are not valid", problems)
    if isinstance(window, str):
        window = Window.parse(window)
    ranked, cases = baseline_drafts(
        session, name, window=window, thresholds=thresholds, induction=induction
    )
    created: list[ProposalRecord] = []
    seen: set[str] = set()
    for item in ranked:
        digest = item.draft.candidate.hash
        if len(created) == limit:
            break
        if digest in seen or open_duplicate(session, name, digest) is not None:
            continue
        seen.add(digest)
        record = record_draft(
            session,
            item.draft,
            rationale=item.rationale,
            author=AUTHOR,
            actor=actor,
            title=item.title,
            run=item.run(len(created) + 1, cases),
        )
        created.append(record)
    return created
