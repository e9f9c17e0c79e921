"""A reference evaluator: DESIGN §2 and the contract in ``rules.core.engine.hit_policies``, in plain Python.

It exists to be obviously right, not fast, and to share nothing with the production path: it
imports neither :mod:`rules.core.three_valued` nor :mod:`rules.core.engine`, and takes from :mod:`rules.core.engine.hit_policies`
only the :class:`Result` dataclass it must return. Property tests compare the two.

Conditions are three-valued (``True``/``False``/``None`` for unknown):

* a leaf on a missing or null input is unknown, except ``is_null`` (true exactly then) and
  ``not_null`` (false exactly then);
* ``all`` is Kleene *and* (empty: true), ``any`` is Kleene *or* (empty: false), and
  ``not`` maps unknown to unknown;
* a rule matches when its condition is true; a rule without ``when`` always matches.

Values compare as their input's type says: numbers numerically (``1 == 1.0``), strings exactly
(ordered by code point, as Python orders ``str``), booleans only by ``eq``/``ne``. Equality
between a result value and a review value is type-aware: a boolean never equals a number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rules.core.document import AllOf, AnyOf, Between, Condition, Document, Leaf, Not, Scalar
from rules.core.engine.hit_policies import Result

__all__ = ["comparable", "reference_evaluate", "same_value"]

Row = dict[str, Scalar | None]
Facts = Mapping[str, Scalar | None]


def comparable(value: Any) -> Any:
    """Outputs in a form whose ``==`` is type-aware: ``1`` and ``1.0`` (and ``-0.0`` and ``0``)
    are one number, as in the canonical form, but ``True`` is never ``1``."""
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    if isinstance(value, bool):
        return ("boolean", value)
    if isinstance(value, float) and value.is_integer():
        return ("number", int(value))
    if isinstance(value, int | float):
        return ("number", value)
    return value


def same_value(a: object, b: object) -> bool:
    """Equality that never confuses a boolean with a number (Python says ``True == 1``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return a == b


# --------------------------------------------------------------------------- conditions


def _compare(op: str, x: Any, v: Any) -> bool:
    if op == "eq":
        return bool(x == v)
    if op == "ne":
        return bool(x != v)
    if op == "lt":
        return bool(x < v)
    if op == "le":
        return bool(x <= v)
    if op == "gt":
        return bool(x > v)
    if op == "ge":
        return bool(x >= v)
    raise ValueError(f"not a comparison: {op}")


def _leaf(leaf: Leaf, facts: Facts) -> bool | None:
    x: Any = facts.get(leaf.input)
    if leaf.op == "is_null":
        return x is None
    if leaf.op == "not_null":
        return x is not None
    if x is None:
        return None
    value = leaf.value
    if leaf.op == "in":
        assert isinstance(value, tuple)
        return any(x == v for v in value)
    if leaf.op == "not_in":
        assert isinstance(value, tuple)
        return all(x != v for v in value)
    if leaf.op == "between":
        assert isinstance(value, Between)
        above = x >= value.low if value.low_inclusive else x > value.low
        below = x <= value.high if value.high_inclusive else x < value.high
        return bool(above and below)
    return _compare(leaf.op, x, value)


def holds(cond: Condition | None, facts: Facts) -> bool | None:
    """The three-valued truth of ``cond`` for validated facts (``None`` is unknown)."""
    if cond is None:
        return True
    if isinstance(cond, Leaf):
        return _leaf(cond, facts)
    if isinstance(cond, Not):
        inner = holds(cond.item, facts)
        return None if inner is None else not inner
    values = [holds(item, facts) for item in cond.items]
    if isinstance(cond, AllOf):
        if False in values:
            return False
        return None if None in values else True
    if isinstance(cond, AnyOf):
        if True in values:
            return True
        return None if None in values else False
    raise TypeError(f"not a condition: {cond!r}")


# --------------------------------------------------------------------------- hit policies


def _row(doc: Document, index: int) -> Row:
    """Every output: the value the rule's ``then`` gives (even null), else the default."""
    given = dict(doc.rules[index].then)
    return {o.name: given.get(o.name, o.default) for o in doc.outputs}


def _rank(doc: Document, row: Row) -> list[int]:
    """Position of each output's value in its ``values`` list; unlisted values rank last."""
    key = []
    for out in doc.outputs:
        values = list(out.values or ())
        position = len(values)
        for i, v in enumerate(values):
            if row[out.name] is not None and same_value(row[out.name], v):
                position = i
                break
        key.append(position)
    return key


def _by_priority(doc: Document, matched: Sequence[int]) -> list[int]:
    """Matched rule indices sorted by output priority; ties stay in rule order."""
    return sorted(matched, key=lambda i: (_rank(doc, _row(doc, i)), i))


def _aggregate(doc: Document, rows: Sequence[Row]) -> Row:
    name = doc.outputs[0].name
    if doc.aggregation == "COUNT":
        return {name: len(rows)}
    values = [row[name] for row in rows if row[name] is not None]
    if not values:
        return {name: None}
    if doc.aggregation == "SUM":
        total: Any = 0
        for v in values:
            total = total + v
        return {name: total}
    best: Any = values[0]
    for v in values[1:]:
        if (doc.aggregation == "MIN" and v < best) or (doc.aggregation == "MAX" and v > best):
            best = v
    return {name: best}


def _no_match(doc: Document) -> Row | list[Row] | None:
    if doc.aggregation == "COUNT":
        return {doc.outputs[0].name: 0}
    if any(o.default is None for o in doc.outputs):
        return None
    defaults: Row = {o.name: o.default for o in doc.outputs}
    if doc.hit_policy in ("RULE ORDER", "OUTPUT ORDER", "COLLECT") and doc.aggregation is None:
        return [defaults]
    return defaults


def _decide(
    doc: Document, matched: list[int]
) -> tuple[Row | list[Row] | None, list[int], str | None]:
    """(outputs, deciding rule indices, error) for the matched rule indices."""
    policy = doc.hit_policy
    rows = {i: _row(doc, i) for i in matched}
    if not matched:
        return _no_match(doc), [], None
    if policy == "UNIQUE":
        if len(matched) > 1:
            return None, matched, "hit policy UNIQUE violated"
        return rows[matched[0]], matched, None
    if policy == "ANY":
        first = rows[matched[0]]
        for i in matched:
            if any(not same_value(rows[i][k], first[k]) for k in first):
                return None, matched, "hit policy ANY violated"
        return first, matched, None
    if policy == "FIRST":
        return rows[matched[0]], [matched[0]], None
    if policy == "PRIORITY":
        best = _by_priority(doc, matched)[0]
        return rows[best], [best], None
    order = _by_priority(doc, matched) if policy == "OUTPUT ORDER" else list(matched)
    if doc.aggregation is not None:
        return _aggregate(doc, [rows[i] for i in order]), order, None
    return [rows[i] for i in order], order, None


def _exception(doc: Document, outputs: Row | list[Row] | None, error: str | None) -> bool:
    if outputs is None or error is not None:
        return True
    if doc.review is None:
        return False
    rows = outputs if isinstance(outputs, list) else [outputs]
    for row in rows:
        value = row.get(doc.review.output)
        if any(same_value(value, v) for v in doc.review.values):
            return True
    return False


def reference_evaluate(doc: Document, facts: Facts) -> Result:
    """The decision for facts already validated against ``doc``'s inputs."""
    matched = [i for i, rule in enumerate(doc.rules) if holds(rule.when, facts) is True]
    outputs, deciding, error = _decide(doc, matched)
    reasons: dict[str, str] = {}
    for i in matched:
        reason = dict(doc.rules[i].then).get("reason")  # the rule's own, never a default
        if isinstance(reason, str):
            reasons[doc.rules[i].id] = reason
    return Result(
        outputs=outputs,
        rule_ids=tuple(doc.rules[i].id for i in deciding),
        matched=tuple(doc.rules[i].id for i in matched),
        exception=_exception(doc, outputs, error),
        error=error,
        reasons=reasons,
    )
