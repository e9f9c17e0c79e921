"""Replaying a window of the decision log under a base and a candidate document (DESIGN §5).

The log is streamed (:func:`rules.store.decision_log.stream_cases`), so memory stays flat whatever
the window: one reader batch, the bounded evaluation cache, the transition counts and the first
``keep`` changed decisions. Each case is evaluated from its stored facts, which were validated when
it was decided; a candidate adds no inputs, so they are valid for it too, and facts either document
does not accept are counted as ``errors`` (no result), not raised. Equal fact sets are evaluated
once each while they stay in the cache (``CACHE`` distinct sets; it starts over when full): logs
repeat themselves, and evaluation is most of the work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from proposer.backtest.report import Backtest, ChangedDecision, Matrices, labels
from proposer.backtest.window import Window
from proposer.cases import agrees, engine_value, review_output
from proposer.errors import BacktestError
from rules.core.document import Document
from rules.core.engine import CompiledRuleset
from rules.core.engine.hit_policies import Result
from rules.errors import FactsError, Problem
from rules.store.decision_log import LoggedCase, stream_cases
from rules.store.versions import get_version

__all__ = ["CACHE", "KEEP", "backtest"]

CACHE = 20_000  # distinct fact sets kept evaluated
KEEP = 1000  # changed decisions listed in full (the count is always complete)


class _Outcome(NamedTuple):
    """Everything a case's tally needs from evaluating its facts under both documents."""

    base: Result | None  # None: the facts are not valid for the base
    candidate: Result | None
    base_labels: tuple[str, ...]
    candidate_labels: tuple[str, ...]
    changed: bool


@dataclass(slots=True)
class _Tally:
    names: tuple[str, ...]
    keep: int
    matrices: Matrices = field(init=False)
    cases: int = 0
    changed: int = 0
    resolved: int = 0
    agree_before: int = 0
    agree_after: int = 0
    exceptions_before: int = 0
    exceptions_after: int = 0
    errors_before: int = 0
    errors_after: int = 0
    known_before: int = 0
    known_after: int = 0
    agreed_before: int = 0
    agreed_after: int = 0
    mismatches: int = 0
    other_versions: int = 0
    listed: list[ChangedDecision] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.matrices = Matrices(self.names)


def _reproduces(case: LoggedCase, result: Result | None) -> bool:
    return (
        result is not None
        and case.exception == result.exception
        and case.rule_ids == result.rule_ids
        and case.matched == result.matched
        and (case.outputs is result.outputs or case.outputs == result.outputs)
    )


class _Evaluator:
    """Both documents' results for a fact set, cached by the facts' items."""

    def __init__(self, base: CompiledRuleset, candidate: CompiledRuleset) -> None:
        self.base, self.candidate = base, candidate
        self.names = tuple(o.name for o in base.doc.outputs)
        self.output = review_output(base.doc)
        self.review = tuple(base.doc.review.values) if base.doc.review is not None else ()
        # Facts valid for the base are valid for a candidate with the same inputs.
        self.same_inputs = base.doc.inputs == candidate.doc.inputs
        self._cache: dict[tuple[tuple[str, Any], ...], _Outcome] = {}

    def __call__(self, facts: Mapping[str, Any]) -> _Outcome:
        key = tuple(facts.items())
        found = self._cache.get(key)
        if found is None:
            found = self._evaluate(facts)
            if len(self._cache) >= CACHE:
                self._cache.clear()
            self._cache[key] = found
        return found

    def _evaluate(self, facts: Mapping[str, Any]) -> _Outcome:
        base, candidate = self.base, self.candidate
        clean = _valid(base, facts)
        before = None if clean is None else base.evaluate(clean)
        if not self.same_inputs:
            clean = _valid(candidate, facts)
        after = None if clean is None else candidate.evaluate(clean)
        old = None if before is None else before.outputs
        new = None if after is None else after.outputs
        return _Outcome(before, after, labels(old, self.names), labels(new, self.names), old != new)


def _valid(compiled: CompiledRuleset, facts: Mapping[str, Any]) -> dict[str, Any] | None:
    try:
        return compiled.validate(dict(facts))
    except FactsError:
        return None


def _known(case: LoggedCase, output: str, review: tuple[Any, ...]) -> Any:
    """The case's known outcome: the resolution's review output, else, for a decision that
    was not an exception, the review output it was decided with (None: unknown)."""
    if case.resolution is not None and case.resolution.get(output) is not None:
        return case.resolution.get(output)
    return None if case.exception else engine_value(case.outputs, output, review)


def _agreement(
    tally: _Tally, case: LoggedCase, outcome: _Outcome, output: str, review: tuple[Any, ...]
) -> None:
    known = _known(case, output, review)
    if known is None:
        return
    for after, result in ((False, outcome.base), (True, outcome.candidate)):
        if result is None or result.exception:
            continue
        agreed = engine_value(result.outputs, output, review) == known
        if after:
            tally.known_after += 1
            tally.agreed_after += agreed
        else:
            tally.known_before += 1
            tally.agreed_before += agreed


def _count(tally: _Tally, case: LoggedCase, outcome: _Outcome, base_version: int | None) -> None:
    tally.cases += 1
    before, after = outcome.base, outcome.candidate
    if before is None:
        tally.errors_before += 1
        tally.exceptions_before += 1
    elif before.exception:
        tally.exceptions_before += 1
    if after is None:
        tally.errors_after += 1
        tally.exceptions_after += 1
    elif after.exception:
        tally.exceptions_after += 1
    if not _reproduces(case, before):
        tally.mismatches += 1
    if base_version is not None and case.version != base_version:
        tally.other_versions += 1
    resolution = case.resolution
    if resolution is not None:
        tally.resolved += 1
        tally.agree_before += before is not None and agrees(before.outputs, resolution)
        tally.agree_after += after is not None and agrees(after.outputs, resolution)
    tally.matrices.add(outcome.base_labels, outcome.candidate_labels)
    if outcome.changed:
        tally.changed += 1
        if len(tally.listed) < tally.keep:
            old = None if before is None else before.outputs
            new = None if after is None else after.outputs
            tally.listed.append(ChangedDecision(case.decision_id, old, new, resolution))


def _check_outputs(base: Document, candidate: Document) -> None:
    names = [o.name for o in base.outputs]
    other = [o.name for o in candidate.outputs]
    if names != other:
        raise BacktestError(
            "the candidate must have the base's outputs to be compared with it",
            [Problem("RB931", "candidate.outputs", f"outputs are {other}; the base has {names}")],
        )


def _replay(
    session: Session,
    name: str,
    window: Window,
    evaluate: _Evaluator,
    keep: int,
    batch: int,
    base_version: int | None,
) -> _Tally:
    tally = _Tally(evaluate.names, max(keep, 0))
    cases = stream_cases(
        session,
        name,
        after=window.after,
        before=window.before,
        since=window.since,
        until=window.until,
        last=window.last,
        batch=batch,
    )
    for case in cases:
        outcome = evaluate(case.facts)
        _count(tally, case, outcome, base_version)
        _agreement(tally, case, outcome, evaluate.output, evaluate.review)
    return tally


def backtest(
    session: Session,
    name: str,
    candidate: Document,
    *,
    base: int | Document | None = None,
    window: Window | None = None,
    keep: int = KEEP,
    batch: int = 5000,
) -> Backtest:
    """Replay ``name``'s logged decisions in ``window`` (default: all) under ``base`` (a version
    number, a document, or by default the active version) and ``candidate``.

    NotFoundError for an unknown ruleset or version; BacktestError if the candidate's outputs
    are not the base's. See :mod:`proposer.backtest.report` for what each figure means."""
    window = window or Window()
    base_version = None
    if not isinstance(base, Document):
        info = get_version(session, name, base)
        base, base_version = info.document, info.number
    _check_outputs(base, candidate)
    # Compiled for this run alone: a shared Engine could evict them mid-run, and its locks
    # would be contended by the decisions being served meanwhile.
    compiled = CompiledRuleset(base), CompiledRuleset(candidate)
    try:
        tally = _replay(session, name, window, _Evaluator(*compiled), keep, batch, base_version)
    finally:
        for one in compiled:
            one.close()
    return Backtest(
        ruleset=name,
        base_version=base_version,
        base_hash=base.hash,
        candidate_hash=candidate.hash,
        window=window,
        cases=tally.cases,
        changed=tally.changed,
        transitions=tally.matrices.result(),
        resolved=tally.resolved,
        agree_before=tally.agree_before,
        agree_after=tally.agree_after,
        exceptions_before=tally.exceptions_before,
        exceptions_after=tally.exceptions_after,
        errors_before=tally.errors_before,
        errors_after=tally.errors_after,
        known_before=tally.known_before,
        known_after=tally.known_after,
        agreed_before=tally.agreed_before,
        agreed_after=tally.agreed_after,
        mismatches=tally.mismatches,
        other_versions=tally.other_versions,
        changed_decisions=tuple(tally.listed),
        keep=tally.keep,
    )
