"""What induction learns from: a window of the log reduced to counted groups of equal cases.

Rule induction only ever asks, of a case, which of a finite set of conditions hold for it and
what happened to it: where the base rules put it (its first matching rule, whether it was
automated, the review output they gave) and what a person or the rules settled (its known
outcome, as :mod:`proposer.induce` defines it). Cases that agree on all of that are
interchangeable, so a sample keeps one **group** per distinct combination, with how many cases
it stands for in each **block** of the window and the smallest of their decision ids (enough
to cite the first ``ID_SAMPLE`` of any union of groups). Learning then costs what the number
of groups costs, not the number of decisions, and the log is read once, streamed.

The conditions induction may write are known in advance, so facts are kept only as finely as
they can tell apart (**binning**; only inputs induction may use are kept at all):

* a ``number`` input (or an ``integer`` one with more than ``MAX_INTEGER_VALUES`` values) is
  cut only at 2-significant-digit values (:func:`proposer.conditions.round2`), and base rules
  test it at their own thresholds; a value that is one of those points is kept, any other
  becomes the midpoint of the interval between the points around it, which every such
  condition treats exactly as the value itself;
* other integers, booleans, and inputs with declared ``values`` are kept as they are;
* a string (or declared-values) input is kept while it has at most ``MAX_CATEGORIES``
  distinct values in the window; beyond, induction writes no condition on it, and its later
  values are dropped.

The values each input took (for numbers, rounded to 2 significant digits: the thresholds
induction may offer) are kept per block apart, so that a learner restricted to some blocks
offers only what it could have seen. **Blocks** are consecutive runs of the window in
decision id order (oldest first), of equal size: the forecast learns on some and measures on
another (:mod:`proposer.forecast`). Everything is kept in first-seen order, so the same log
gives the same sample, byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

from proposer.backtest.window import Window
from proposer.binning import Binner
from proposer.cases import engine_value, review_output
from proposer.conditions import MAX_CATEGORIES, round2
from rules.core.document import Document, Input, Scalar
from rules.core.engine import CompiledRuleset
from rules.core.engine.hit_policies import Result
from rules.errors import FactsError
from rules.store.decision_log import count_cases, stream_cases

__all__ = [
    "ID_SAMPLE",
    "MAX_INTEGER_VALUES",
    "Group",
    "Part",
    "Sample",
    "SampleBuilder",
    "read_sample",
    "sample_of",
]

ID_SAMPLE = 50  # decision ids kept per group: the smallest, so any union's first 50 are known
MAX_INTEGER_VALUES = 200  # distinct values an integer input keeps before it is binned
CACHE = 20_000  # fact sets kept decided while a sample is built
Decide = Callable[[Mapping[str, Any]], tuple[Mapping[str, Any], Result]]


class Logged(Protocol):
    """A logged case as a sample reads it (a :class:`proposer.cases.Case` or a
    ``rules.log.LoggedCase``)."""

    @property
    def decision_id(self) -> int: ...
    @property
    def facts(self) -> Mapping[str, Any]: ...
    @property
    def outputs(self) -> Any: ...
    @property
    def exception(self) -> bool: ...
    @property
    def resolution(self) -> Mapping[str, Any] | None: ...
    @property
    def override(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Group:
    """Cases with the same (binned) usable facts and the same outcomes under the base.

    ``first``: under FIRST, the index of the first base rule that matches (``len(rules)``:
    none; a rule inserted at a position up to it decides the cases); under other single-hit
    policies ``len(rules)`` when no rule matches, else -1 (never covered). ``current`` is the
    review output's value the base gives, ``automated`` whether that result is not an
    exception, ``truth`` the known outcome (None: unknown), ``citable`` whether the cases are
    exceptions or overrides with a human resolution (the only decisions a proposal may cite:
    :mod:`proposer.citations`)."""

    facts: Mapping[str, Scalar | None]
    first: int
    automated: bool
    current: Scalar | None
    truth: Scalar | None
    citable: bool
    counts: tuple[int, ...]  # cases per block
    ids: tuple[int, ...]  # the smallest decision ids, at most ID_SAMPLE

    @property
    def count(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True, slots=True)
class Part:
    """The groups seen in some blocks, with how many of their cases fall in them: what a
    learner restricted to those blocks sees. ``skipped`` counts the cases there whose facts
    the base does not accept (they are exceptions, and no rule can be learned from them)."""

    doc: Document
    groups: tuple[Group, ...]
    weights: tuple[int, ...]
    observed: Mapping[str, tuple[Scalar, ...]]  # () for an input induction may not cut
    skipped: int

    @property
    def cases(self) -> int:
        return sum(self.weights) + self.skipped


@dataclass(frozen=True, slots=True)
class Sample:
    """A window of the log as counted groups (see the module)."""

    doc: Document
    groups: tuple[Group, ...]
    observed: Mapping[str, Mapping[Scalar, int] | None]  # value -> mask of blocks seen in
    skipped: tuple[int, ...]  # per block
    blocks: int

    @property
    def cases(self) -> int:
        return sum(g.count for g in self.groups) + sum(self.skipped)

    def block_cases(self, block: int) -> int:
        return sum(g.counts[block] for g in self.groups) + self.skipped[block]

    def part(self, blocks: Iterable[int] | None = None) -> Part:
        """The groups and cases of ``blocks`` (default: all)."""
        chosen = sorted(set(range(self.blocks) if blocks is None else blocks))
        mask = sum(1 << b for b in chosen)
        groups, weights = [], []
        for group in self.groups:
            weight = sum(group.counts[b] for b in chosen)
            if weight:
                groups.append(group)
                weights.append(weight)
        observed: dict[str, tuple[Scalar, ...]] = {}
        for name, seen in self.observed.items():
            observed[name] = () if seen is None else tuple(v for v, m in seen.items() if m & mask)
        return Part(
            self.doc,
            tuple(groups),
            tuple(weights),
            observed,
            sum(self.skipped[b] for b in chosen),
        )


_Decided = tuple[
    Mapping[str, Any], int, bool, Scalar | None
]  # valid facts, first, automated, current


class SampleBuilder:
    """Adds cases one by one, in decision id order, into a :class:`Sample`."""

    def __init__(self, doc: Document, decide: Decide, *, blocks: int = 1, total: int = 0) -> None:
        self.doc, self.decide = doc, decide
        self.blocks, self.total = max(blocks, 1), max(total, 1)
        self.output = review_output(doc)
        self.review = doc.review.values if doc.review is not None else ()
        self.index = {r.id: k for k, r in enumerate(doc.rules)}
        self.binner = Binner(doc)
        self.groups: dict[tuple[Any, ...], tuple[list[int], list[int]]] = {}
        self.skipped = [0] * self.blocks
        self.seen = 0
        self.cache: dict[tuple[tuple[str, Any], ...], _Decided | None] = {}
        self.observed: dict[str, dict[Scalar, int] | None] = {
            spec.name: {} for spec in self.binner.inputs
        }
        self.integers_binned: set[str] = set()

    def add(self, case: Logged) -> None:
        block = min(self.seen * self.blocks // self.total, self.blocks - 1)
        self.seen += 1
        found = self._decided(case.facts)
        if found is None:
            self.skipped[block] += 1
            return
        valid, first, automated, current = found
        resolution = case.resolution
        truth = None if resolution is None else resolution.get(self.output)
        if truth is None and not case.exception:
            truth = engine_value(case.outputs, self.output, self.review)
        facts = tuple(self._keep(spec, valid.get(spec.name), block) for spec in self.binner.inputs)
        citable = resolution is not None and (case.exception or case.override)
        key = (facts, first, automated, current, truth, citable)
        entry = self.groups.get(key)
        if entry is None:
            entry = self.groups[key] = ([0] * self.blocks, [])
        entry[0][block] += 1
        if len(entry[1]) < ID_SAMPLE:
            entry[1].append(case.decision_id)

    def _decided(self, facts: Mapping[str, Any]) -> _Decided | None:
        key = tuple(facts.items())
        if key in self.cache:
            return self.cache[key]
        try:
            valid, result = self.decide(facts)
        except FactsError:
            found = None
        else:
            if self.doc.hit_policy == "FIRST":
                first = self.index[result.rule_ids[0]] if result.rule_ids else len(self.doc.rules)
            else:
                first = -1 if result.matched else len(self.doc.rules)
            current = engine_value(result.outputs, self.output, self.review)
            found = (valid, first, not result.exception, current)
        if len(self.cache) >= CACHE:
            self.cache.clear()
        self.cache[key] = found
        return found

    def _keep(self, spec: Input, value: Any, block: int) -> Scalar | None:
        """The value as the sample keeps it, noting what was observed."""
        seen = self.observed[spec.name]
        if value is None or seen is None:
            return None
        bit = 1 << block
        if spec.type == "boolean" or spec.values is not None or spec.type == "string":
            if value not in seen and len(seen) > MAX_CATEGORIES:
                self.observed[spec.name] = None  # too many values: no condition on it
                return None
            seen[value] = seen.get(value, 0) | bit
            return value  # type: ignore[no-any-return]
        if not isinstance(value, int | float) or isinstance(value, bool):
            return value
        if spec.type == "integer" and spec.name not in self.integers_binned:
            seen[value] = seen.get(value, 0) | bit
            if len(seen) <= MAX_INTEGER_VALUES:
                return value
            self.integers_binned.add(spec.name)
            self.observed[spec.name] = seen = _rounded(seen)
            return self.binner.number(spec.name, value)
        cut = round2(value)
        seen[cut] = seen.get(cut, 0) | bit
        return self.binner.number(spec.name, value)

    def build(self) -> Sample:
        names = [spec.name for spec in self.binner.inputs]
        groups = tuple(
            Group(
                facts=dict(zip(names, key[0], strict=True)),
                first=key[1],
                automated=key[2],
                current=key[3],
                truth=key[4],
                citable=key[5],
                counts=tuple(counts),
                ids=tuple(ids),
            )
            for key, (counts, ids) in self.groups.items()
        )
        observed = {k: (None if v is None else dict(v)) for k, v in self.observed.items()}
        return Sample(self.doc, groups, observed, tuple(self.skipped), self.blocks)


def _rounded(seen: Mapping[Scalar, int]) -> dict[Scalar, int]:
    out: dict[Scalar, int] = {}
    for value, mask in seen.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            cut = round2(value)
            out[cut] = out.get(cut, 0) | mask
    return out


def sample_of(doc: Document, cases: Iterable[Logged], decide: Decide, *, blocks: int = 1) -> Sample:
    """The sample of ``cases`` (any order: they are sorted by decision id) under ``doc``."""
    ordered: Sequence[Logged] = sorted(cases, key=lambda c: c.decision_id)
    builder = SampleBuilder(doc, decide, blocks=blocks, total=len(ordered))
    for case in ordered:
        builder.add(case)
    return builder.build()


def read_sample(
    session: Session, name: str, doc: Document, window: Window, *, blocks: int = 1
) -> Sample:
    """The sample of ruleset ``name``'s logged decisions in ``window`` under ``doc``, streamed
    (one reader batch in memory), in ``blocks`` blocks of equal size."""
    where: dict[str, Any] = {
        "after": window.after,
        "before": window.before,
        "since": window.since,
        "until": window.until,
        "last": window.last,
    }
    total = count_cases(session, name, **where)
    compiled = CompiledRuleset(doc)  # of its own: a shared engine could evict it mid-run

    def decide(facts: Mapping[str, Any]) -> tuple[Mapping[str, Any], Result]:
        clean = compiled.validate(dict(facts))
        return clean, compiled.evaluate(clean)

    try:
        builder = SampleBuilder(doc, decide, blocks=blocks, total=total)
        for case in stream_cases(session, name, **where):
            builder.add(case)
    finally:
        compiled.close()
    return builder.build()
