"""From the set of matched rules to a decision: DMN hit policies, defaults, exceptions.

The engine finds which rules match; this module applies the document's hit policy to them.
Semantics (DESIGN §2, DMN 1.3 §8.2.11):

* A rule's *row* is every output: the value its ``then`` gives, else the output's default
  (``None`` when it has none).
* UNIQUE: one match decides; more than one is an evaluation error. ANY: all matching rows
  must be equal, else an evaluation error; the first decides. PRIORITY: the row ranking first
  by the outputs' ``values`` order, compared output by output in column order over the outputs
  that declare ``values`` (an output without them takes no part, as in DMN 1.5 and its TCK);
  unlisted values rank last; ties go to rule order. FIRST: the first match in rule order.
* RULE ORDER: every matching row in rule order. OUTPUT ORDER: every matching row sorted by
  priority (stable). COLLECT: every matching row in rule order; with an aggregation over the
  single output, COUNT is the number of matches and SUM/MIN/MAX aggregate the non-null values
  (null when all are null).
* No match: the defaults, if every output has one (a single row, or ``[row]`` for multi-hit
  policies; COUNT gives 0); otherwise a null result.
* ``outputs`` is a dict for single-hit policies and aggregations, a list of dicts for
  multi-hit policies without aggregation, and None for a null result or an evaluation error.
* ``reasons`` maps each matched rule whose own ``then`` gives a string ``reason`` output to
  that text (a default is not the rule's reason).
* ``exception`` is true for a null result, an evaluation error, or when the review output's
  value (any row's, for lists) is one of the review values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple, TypeAlias

from rules.core.document import Document, Scalar

__all__ = ["Outputs", "Result", "Row", "decide"]

Row: TypeAlias = dict[str, Scalar | None]
Outputs: TypeAlias = Row | list[Row] | None


class Result(NamedTuple):
    """What a ruleset decided for one set of facts, with its explanation.

    An immutable named tuple rather than a frozen dataclass: one is built per decision, and a
    frozen dataclass's ``__init__`` costs several times more on this hot path."""

    outputs: Outputs
    rule_ids: tuple[str, ...]
    matched: tuple[str, ...]
    exception: bool
    error: str | None = None
    reasons: Mapping[str, str] = MappingProxyType({})

    def to_dict(self) -> dict[str, Any]:
        return {
            "outputs": self.outputs,
            "rule_ids": list(self.rule_ids),
            "matched": list(self.matched),
            "exception": self.exception,
            "error": self.error,
            "reasons": dict(self.reasons),
        }


@dataclass(frozen=True, slots=True)
class Table:
    """What :func:`decide` needs of a document, precomputed once per compiled version."""

    doc: Document
    rows: tuple[Row, ...]
    ranks: tuple[tuple[int, ...], ...]
    defaults: Row | None
    review_values: frozenset[Any]
    reasons: tuple[str | None, ...]
    ids: tuple[str, ...]

    @classmethod
    def of(cls, doc: Document) -> Table:
        rows = []
        for rule in doc.rules:
            given = rule.then_dict
            rows.append({o.name: given.get(o.name, o.default) for o in doc.outputs})
        ranks = tuple(_rank(doc, row) for row in rows)
        defaults = None
        if all(o.has_default for o in doc.outputs):
            defaults = {o.name: o.default for o in doc.outputs}
        review = frozenset(_typed(v) for v in doc.review.values) if doc.review else frozenset()
        reasons = []
        for rule in doc.rules:
            reason = rule.then_dict.get("reason")
            reasons.append(reason if isinstance(reason, str) else None)
        ids = tuple(rule.id for rule in doc.rules)
        return cls(doc, tuple(rows), ranks, defaults, review, tuple(reasons), ids)


def _rank(doc: Document, row: Row) -> tuple[int, ...]:
    """The row's priority: per output that declares ``values``, in column order, the index of
    its value (an unlisted value ranks last). Outputs without ``values`` do not rank."""
    key = []
    for out in doc.outputs:
        if not out.values:
            continue
        value = row[out.name]
        key.append(out.values.index(value) if value in out.values else len(out.values))
    return tuple(key)


def _aggregate(doc: Document, rows: Sequence[Row]) -> Row:
    out = doc.outputs[0].name
    if doc.aggregation == "COUNT":
        return {out: len(rows)}
    values = [r[out] for r in rows if r[out] is not None]
    if not values:
        return {out: None}
    if doc.aggregation == "SUM":
        total: Any = 0
        for v in values:
            total += v
        return {out: total}
    pick = min if doc.aggregation == "MIN" else max
    return {out: pick(values)}  # type: ignore[type-var]


def _is_exception(table: Table, outputs: Outputs) -> bool:
    if outputs is None:
        return True
    review = table.doc.review
    if review is None:
        return False
    # Typed membership: 0 is not false and 1 is not true.
    if isinstance(outputs, dict):
        return _typed(outputs.get(review.output)) in table.review_values
    return any(_typed(row.get(review.output)) in table.review_values for row in outputs)


def _typed(value: object) -> tuple[bool, object]:
    return (isinstance(value, bool), value)


def decide(table: Table, matched: Sequence[int]) -> Result:
    """Apply the hit policy to the matched rule indices (ascending, without duplicates)."""
    doc = table.doc
    all_ids, all_reasons = table.ids, table.reasons
    ids = tuple([all_ids[i] for i in matched])
    reasons = {all_ids[i]: r for i in matched if (r := all_reasons[i]) is not None}
    outputs: Outputs
    deciding: tuple[int, ...]
    error = None
    policy = doc.hit_policy
    if not matched:
        deciding = ()
        if doc.aggregation == "COUNT":
            outputs = {doc.outputs[0].name: 0}
        elif table.defaults is None:
            outputs = None
        elif doc.multi_hit and doc.aggregation is None:
            outputs = [dict(table.defaults)]
        else:
            outputs = dict(table.defaults)
    elif policy == "UNIQUE" and len(matched) > 1:
        deciding, outputs = tuple(matched), None
        error = f"hit policy UNIQUE violated: rules {', '.join(ids)} all match"
    elif policy == "ANY" and any(table.rows[i] != table.rows[matched[0]] for i in matched):
        deciding, outputs = tuple(matched), None
        error = f"hit policy ANY violated: rules {', '.join(ids)} match with different outputs"
    elif policy in ("UNIQUE", "FIRST"):
        deciding = (matched[0],)
        outputs = dict(table.rows[matched[0]])
    elif policy == "ANY":
        deciding = tuple(matched)
        outputs = dict(table.rows[matched[0]])
    elif policy == "PRIORITY":
        best = min(matched, key=lambda i: (table.ranks[i], i))
        deciding = (best,)
        outputs = dict(table.rows[best])
    else:
        order = list(matched)
        if policy == "OUTPUT ORDER":
            order.sort(key=lambda i: (table.ranks[i], i))
        deciding = tuple(order)
        rows = [dict(table.rows[i]) for i in order]
        outputs = _aggregate(doc, rows) if doc.aggregation is not None else rows
    rule_ids = tuple([all_ids[i] for i in deciding])
    return Result(
        outputs=outputs,
        rule_ids=rule_ids,
        matched=ids,
        exception=error is not None or _is_exception(table, outputs),
        error=error,
        reasons=reasons,
    )
