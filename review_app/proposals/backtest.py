"""The backtest attached to a proposal, as a page shows it: headline figures before and
after, a transition matrix per output, and the changed decisions a page at a time with their
facts (personal data masked for roles that may not read it).

It reads the stored evidence (:mod:`proposer.backtest`'s report) and recomputes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from proposer.backtest.report import label
from proposer.cases import agrees
from review_app.privacy import MASK
from review_app.proposals.evidence import count, outputs_text, part, percent, plain
from rules.core.document import Document

__all__ = [
    "MASK",
    "BacktestView",
    "ChangedPage",
    "ChangedRow",
    "Figure",
    "Matrix",
    "backtest_view",
    "changed_page",
    "masked_facts",
    "matrices",
    "window_text",
]

MATRIX_LABELS = 8  # more distinct values than this on an axis: a list of transitions instead
LISTED_TRANSITIONS = 50


@dataclass(frozen=True, slots=True)
class Figure:
    """A measure before (base) and after (candidate) the change."""

    label: str
    before: str
    after: str
    change: str


@dataclass(frozen=True, slots=True)
class BacktestView:
    window: str
    cases: int
    changed: int
    changed_share: str
    resolved: int
    figures: tuple[Figure, ...]
    mismatches: int
    other_versions: int


def window_text(window: Mapping[str, Any]) -> str:
    """The backtest window in words."""
    parts = []
    if window.get("last"):
        parts.append(f"the last {int(window['last']):,} decisions")
    if window.get("after") or window.get("before"):
        low, high = window.get("after") or 0, window.get("before")
        parts.append(f"decision ids above {low}" + (f" and below {high}" if high else ""))
    if window.get("since"):
        parts.append(f"decided from {str(window['since'])[:19].replace('T', ' ')}")
    if window.get("until"):
        parts.append(f"decided before {str(window['until'])[:19].replace('T', ' ')}")
    return "; ".join(parts) if parts else "every logged decision"


def _points(before: object, after: object) -> str:
    if not isinstance(before, int | float) or not isinstance(after, int | float):
        return "—"
    delta = (after - before) * 100
    if abs(delta) < 0.05:
        return "no change"
    return f"{'+' if delta > 0 else '-'}{abs(delta):.1f} points"


def backtest_view(evidence: Mapping[str, Any] | None) -> BacktestView | None:
    """The backtest's headline figures; None when no backtest is attached."""
    report = part(evidence, "backtest")
    if not report:
        return None
    agree, exc, errors = (part(report, k) for k in ("agreement", "exceptions", "errors"))
    resolved = count(agree, "resolved")
    figures = (
        Figure(
            f"Agreement with people's decisions ({resolved:,} resolved)",
            f"{percent(agree.get('before_rate'))} ({count(agree, 'before'):,})",
            f"{percent(agree.get('after_rate'))} ({count(agree, 'after'):,})",
            _points(agree.get("before_rate"), agree.get("after_rate")),
        ),
        Figure(
            "Exception rate (sent to a person)",
            f"{percent(exc.get('before_rate'))} ({count(exc, 'before'):,})",
            f"{percent(exc.get('after_rate'))} ({count(exc, 'after'):,})",
            _points(exc.get("before_rate"), exc.get("after_rate")),
        ),
        Figure(
            "Facts the rules cannot evaluate",
            f"{count(errors, 'before'):,}",
            f"{count(errors, 'after'):,}",
            "no change" if errors.get("before") == errors.get("after") else "changed",
        ),
    )
    replay = part(report, "replay")
    return BacktestView(
        window=window_text(part(evidence, "window") or part(report, "window")),
        cases=count(report, "cases"),
        changed=count(report, "changed"),
        changed_share=percent(report.get("changed_rate")),
        resolved=resolved,
        figures=figures,
        mismatches=count(replay, "mismatches"),
        other_versions=count(replay, "other_versions"),
    )


@dataclass(frozen=True, slots=True)
class Matrix:
    """Transitions of one output: base value (row) to candidate value (column).

    ``cells[i][j]`` counts the decisions going from ``rows[i]`` to ``columns[j]``; when an
    axis has too many values (``as_list``), ``transitions`` lists the changed pairs instead."""

    output: str
    columns: tuple[str, ...]
    rows: tuple[str, ...]
    cells: tuple[tuple[int, ...], ...]
    changed: int
    total: int
    as_list: bool
    transitions: tuple[tuple[str, str, int], ...]
    more: int


def _ordered(labels: set[str], declared: Sequence[str]) -> tuple[str, ...]:
    """``labels`` in the output's declared value order, then the others alphabetically."""
    rank = {label: i for i, label in enumerate(declared)}
    return tuple(sorted(labels, key=lambda x: (rank.get(x, len(rank)), x)))


def _matrix(output: str, data: Mapping[str, Mapping[str, int]], declared: Sequence[str]) -> Matrix:
    rows = _ordered(set(data), declared)
    columns = _ordered({after for row in data.values() for after in row}, declared)
    pairs = [(b, a, int(n)) for b, row in data.items() for a, n in row.items()]
    changed = sorted(((b, a, n) for b, a, n in pairs if a != b), key=lambda t: (-t[2], t[0]))
    as_list = max(len(rows), len(columns)) > MATRIX_LABELS
    cells = () if as_list else tuple(tuple(int(data[b].get(a, 0)) for a in columns) for b in rows)
    return Matrix(
        output=output,
        columns=() if as_list else columns,
        rows=() if as_list else rows,
        cells=cells,
        changed=sum(n for _, _, n in changed),
        total=sum(n for _, _, n in pairs),
        as_list=as_list,
        transitions=tuple(changed[:LISTED_TRANSITIONS]) if as_list else (),
        more=max(0, len(changed) - LISTED_TRANSITIONS) if as_list else 0,
    )


def matrices(evidence: Mapping[str, Any] | None, doc: Document) -> tuple[Matrix, ...]:
    """A transition matrix per output of ``doc``, the review output first; values in the
    order the output declares them."""
    found = part(part(evidence, "backtest"), "transitions")
    review = doc.review.output if doc.review else None
    names = sorted(found, key=lambda name: (name != review, name))
    out = []
    for name in names:
        spec = doc.output(name)
        declared = [label(v) for v in (spec.values or ())] if spec is not None else []
        if isinstance(found[name], Mapping):
            out.append(_matrix(name, found[name], declared))
    return tuple(out)


# --------------------------------------------------------------------------- changed decisions


@dataclass(frozen=True, slots=True)
class ChangedRow:
    decision_id: int
    base: str
    candidate: str
    resolution: str
    effect: str
    facts: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ChangedPage:
    total: int
    stored: int
    page: int
    pages: int
    first: int
    rows: tuple[ChangedRow, ...]


def _effect(base: Any, candidate: Any, resolution: Any) -> str:
    if not isinstance(resolution, Mapping) or not resolution:
        return "no human decision to compare"
    before, after = agrees(base, resolution), agrees(candidate, resolution)
    if after and not before:
        return "fixed: now matches the person's decision"
    if before and not after:
        return "broken: no longer matches the person's decision"
    return "still matches the person's decision" if after else "still differs from the person"


def masked_facts(
    facts: Mapping[str, Any] | None, doc: Document, pii_reader: bool
) -> tuple[tuple[str, str], ...]:
    """A decision's facts in the schema's order; inputs marked ``pii`` masked unless the
    viewer may read personal data."""
    if not facts:
        return ()
    order = [i.name for i in doc.inputs] + sorted(set(facts) - {i.name for i in doc.inputs})
    out = []
    for name in order:
        if name not in facts:
            continue
        spec = doc.input(name)
        hidden = spec is not None and spec.pii and not pii_reader
        out.append((name, MASK if hidden else plain(facts[name])))
    return tuple(out)


def changed_page(
    evidence: Mapping[str, Any] | None,
    page: int,
    size: int,
    facts_of: Callable[[Sequence[int]], Mapping[int, Mapping[str, Any]]],
    doc: Document,
    pii_reader: bool,
) -> ChangedPage:
    """Page ``page`` (from 1) of the changed decisions stored with the evidence; ``facts_of``
    looks up the facts of the decisions on the page."""
    data = part(part(evidence, "backtest"), "changed_decisions")
    items = [i for i in data.get("items", []) if isinstance(i, Mapping)]
    pages = max(1, -(-len(items) // size))
    page = min(max(page, 1), pages)
    shown = items[(page - 1) * size : page * size]
    facts = facts_of([int(i.get("decision_id", 0)) for i in shown])
    rows = tuple(
        ChangedRow(
            decision_id=int(i.get("decision_id", 0)),
            base=outputs_text(i.get("base")),
            candidate=outputs_text(i.get("candidate")),
            resolution=outputs_text(i.get("resolution")) if i.get("resolution") else "—",
            effect=_effect(i.get("base"), i.get("candidate"), i.get("resolution")),
            facts=masked_facts(facts.get(int(i.get("decision_id", 0))), doc, pii_reader),
        )
        for i in shown
    )
    total = count(data, "total") or count(part(evidence, "backtest"), "changed")
    return ChangedPage(total, len(items), page, pages, (page - 1) * size + 1, rows)
