"""Citation verdicts: the system's check of every decision a proposal cites (DESIGN §5).

A citation is *verified* only when all of these hold: the decision exists, belongs to the
proposal's ruleset, is an exception or an override (it has a human resolution that differs
from the automated outputs), and the candidate document gives, on the resolved outputs, exactly
what the person chose while the base document did not. Everything else gets a verdict that
says which condition failed, so an analyst sees at a glance which citations are evidence and
which are decoration. The author's claims about its citations are never used.

Citations arrive from untrusted authors (an LLM among them): ids are checked for type and
count before anything is looked up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from proposer.cases import agrees
from rules.core.document import Document
from rules.core.engine import Engine, default_engine
from rules.errors import NotFoundError, Problem
from rules.store.decisions import DecisionRecord, get_decision

__all__ = ["MAX_CITATIONS", "VERDICTS", "CitationVerdict", "check_citations", "citation_problems"]

MAX_CITATIONS = 200
VERDICTS = {
    "verified": "the candidate gives the outcome the person chose; the base did not",
    "not_found": "no such decision",
    "other_ruleset": "the decision belongs to another ruleset",
    "unresolved": "the decision has no human resolution to compare with",
    "not_exception": "the decision was neither an exception nor overridden",
    "unchanged": "the candidate decides it exactly as the base does",
    "still_wrong": "the candidate changes it, but not to what the person chose",
    "already_right": "the base already gives what the person chose",
}


@dataclass(frozen=True, slots=True)
class CitationVerdict:
    decision_id: int
    verdict: str
    base: Any = None
    candidate: Any = None
    resolution: Mapping[str, Any] | None = None

    @property
    def verified(self) -> bool:
        return self.verdict == "verified"

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "verdict": self.verdict,
            "explanation": VERDICTS[self.verdict],
            "base": self.base,
            "candidate": self.candidate,
            "resolution": dict(self.resolution) if self.resolution is not None else None,
        }


def citation_problems(citations: object, loc: str = "citations") -> list[Problem]:
    """What is wrong with an untrusted list of cited decision ids (empty: nothing)."""
    if not isinstance(citations, Sequence) or isinstance(citations, str | bytes):
        return [Problem("RB901", loc, "give a list of decision ids (integers)")]
    problems = [
        Problem("RB902", f"{loc}[{i}]", f"a decision id is a positive integer, not {c!r}")
        for i, c in enumerate(citations)
        if not isinstance(c, int) or isinstance(c, bool) or c < 1
    ]
    if len(citations) > MAX_CITATIONS:
        problems.append(
            Problem("RB903", loc, f"{len(citations)} citations; cite at most {MAX_CITATIONS}")
        )
    return problems


def _verdict(
    record: DecisionRecord, base: Document, candidate: Document, engine: Engine
) -> CitationVerdict:
    resolution = record.resolution.outputs if record.resolution else None
    if resolution is None:
        return CitationVerdict(record.id, "unresolved")
    before = engine.evaluate(base, record.facts).outputs
    after = engine.evaluate(candidate, record.facts).outputs
    overridden = record.resolution is not None and record.resolution.override

    def verdict(name: str) -> CitationVerdict:
        return CitationVerdict(record.id, name, before, after, resolution)

    if not (record.exception or overridden):
        return verdict("not_exception")
    if agrees(before, resolution):
        return verdict("already_right")
    if after == before:
        return verdict("unchanged")
    return verdict("verified" if agrees(after, resolution) else "still_wrong")


def check_citations(
    session: Session,
    ruleset: str,
    base: Document,
    candidate: Document,
    citations: Sequence[int],
    engine: Engine = default_engine,
) -> list[CitationVerdict]:
    """A verdict for each cited decision, in citation order (duplicates checked once)."""
    verdicts: list[CitationVerdict] = []
    for decision_id in dict.fromkeys(citations):
        try:
            record = get_decision(session, decision_id)
        except NotFoundError:
            verdicts.append(CitationVerdict(decision_id, "not_found"))
            continue
        if record.ruleset != ruleset:
            verdicts.append(CitationVerdict(decision_id, "other_ruleset"))
            continue
        verdicts.append(_verdict(record, base, candidate, engine))
    return verdicts
