"""Decision-table cells and ruleset conditions, translated both ways without changing meaning.

FEEL and the ruleset engine agree on comparisons and ranges over a null input (null: no
match, also under ``not``) but not on equality: FEEL's ``null = "a"`` is *false*, so
``not("a")`` and ``!= "a"`` hold for a null input, while a ruleset leaf on a null input is
unknown. :func:`condition_of` adds the explicit ``is_null`` those cells need.

Export goes the other way through :func:`rules.core.three_valued.true_form`: the formula for one
input is evaluated on every region the constants cut the value line into (each constant, each gap
between neighbours, the two ends; or each allowed value of an input with a list of values) and on
null, and the regions where it holds are written as the shortest exact list of tests, positive or
under ``not(...)``.
"""

from __future__ import annotations

from typing import Any

from rules.core.dmn.feel import (
    Compare,
    Equal,
    Interval,
    IsNull,
    NotEqual,
    NotNull,
    Test,
    UnaryTests,
    format_literal,
)
from rules.core.document import Scalar
from rules.core.three_valued import And, Atom, Const, Formula, Or
from rules.core.validate import value_fits
from rules.errors import DmnError

__all__ = ["cell_of", "condition_of", "type_problem"]

_OPS = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
_ARTICLE = {"number": "a number", "integer": "an integer", "string": "a string"}


def type_problem(cell: UnaryTests, kind: str) -> str | None:
    """Why a cell does not fit an input of type ``kind``, or None if it does."""
    for test in cell.tests:
        if isinstance(test, IsNull | NotNull):
            continue
        if kind == "boolean" and isinstance(test, Compare | Interval):
            return "booleans are not ordered: only true, false, null, = and != apply to them"
        values = (test.low, test.high) if isinstance(test, Interval) else (test.value,)
        for value in values:
            if not value_fits(kind, value):
                return (
                    f"{format_literal(value)} is not {_ARTICLE.get(kind, 'true or false')}, "
                    "the type of this input"
                )
    return None


# --------------------------------------------------------------------------- import


def _leaf(name: str, op: str, value: Any = None) -> dict[str, Any]:
    leaf: dict[str, Any] = {"input": name, "op": op}
    if op not in ("is_null", "not_null"):
        leaf["value"] = value
    return leaf


def _test(test: Test, name: str) -> dict[str, Any]:
    if isinstance(test, IsNull):
        return _leaf(name, "is_null")
    if isinstance(test, NotNull):
        return _leaf(name, "not_null")
    if isinstance(test, Equal):
        return _leaf(name, "eq", test.value)
    if isinstance(test, NotEqual):
        # FEEL: null != v is true.
        return {"any": [_leaf(name, "is_null"), _leaf(name, "ne", test.value)]}
    if isinstance(test, Compare):
        return _leaf(name, _OPS[test.op], test.value)
    return _leaf(
        name,
        "between",
        {
            "low": test.low,
            "high": test.high,
            "low_inclusive": test.low_inclusive,
            "high_inclusive": test.high_inclusive,
        },
    )


def _positive(tests: tuple[Test, ...], name: str, kind: str) -> dict[str, Any]:
    if len(tests) > 1 and kind != "boolean" and all(isinstance(t, Equal) for t in tests):
        return _leaf(name, "in", [t.value for t in tests if isinstance(t, Equal)])
    items = [_test(t, name) for t in tests]
    return items[0] if len(items) == 1 else {"any": items}


def condition_of(cell: UnaryTests, name: str, kind: str) -> dict[str, Any]:
    """The ruleset condition (plain data) that holds exactly when the FEEL cell does."""
    if not cell.negated:
        return _positive(cell.tests, name, kind)
    if cell.tests == (IsNull(),):
        return _leaf(name, "not_null")
    if cell.tests == (NotNull(),):
        return _leaf(name, "is_null")
    negation = {"not": _positive(cell.tests, name, kind)}
    if all(isinstance(t, Equal | NotNull) for t in cell.tests):
        # FEEL: null = v and null != null are false, so not(v, ...) holds for a null input.
        return {"any": [_leaf(name, "is_null"), negation]}
    return negation


# --------------------------------------------------------------------------- export


def _constants(form: Formula, out: list[Scalar]) -> None:
    if isinstance(form, Atom):
        if form.value is not None and form.op not in ("present", "absent"):
            out.append(form.value)
    elif isinstance(form, And | Or):
        for item in form.items:
            _constants(item, out)


_COMPARE = {
    "eq": lambda x, v: x == v,
    "ne": lambda x, v: x != v,
    "lt": lambda x, v: x < v,
    "le": lambda x, v: x <= v,
    "gt": lambda x, v: x > v,
    "ge": lambda x, v: x >= v,
}


def _holds(form: Formula, at: int | None, consts: list[Scalar], points_only: bool) -> bool:
    """Whether ``form`` holds on region ``at`` (None: a null input).

    With ``points_only`` region ``k`` is the value ``consts[k]``; otherwise even regions
    ``2k`` are the gaps below ``consts[k]`` (the last one above them all) and odd ones the
    constants themselves, which hold every value the formula compares with.
    """
    if isinstance(form, Const):
        return form.value
    if isinstance(form, And):
        return all(_holds(item, at, consts, points_only) for item in form.items)
    if isinstance(form, Or):
        return any(_holds(item, at, consts, points_only) for item in form.items)
    if form.op in ("present", "absent"):
        return (at is not None) == (form.op == "present")
    if at is None or form.value is None:
        return False
    if points_only or at % 2 == 1:
        return bool(_COMPARE[form.op](consts[at if points_only else at // 2], form.value))
    j, k = consts.index(form.value), at // 2  # the gap between consts[k - 1] and consts[k]
    return {"eq": False, "ne": True, "lt": j >= k, "le": j >= k, "gt": j <= k - 1}.get(
        form.op, j <= k - 1
    )


def _runs(truth: list[bool], consts: list[Scalar]) -> list[Test] | None:
    """The tests covering exactly the true regions, or None when every region is true."""
    items: list[Test] = []
    last = len(truth) - 1
    r = 0
    while r <= last:
        if not truth[r]:
            r += 1
            continue
        a = r
        while r < last and truth[r + 1]:
            r += 1
        b = r
        r += 1
        if a == 0 and b == last:
            return None
        if a == b and a % 2 == 1:
            items.append(Equal(consts[a // 2]))
        elif a == 0:
            items.append(Compare("<=" if b % 2 else "<", consts[b // 2]))
        elif b == last:
            items.append(Compare(">=" if a % 2 else ">", consts[(a - 1) // 2]))
        else:
            items.append(Interval(consts[(a - 1) // 2], consts[b // 2], a % 2 == 1, b % 2 == 1))
    return items


def _in_given_order(tests: list[Test] | None, found: list[Scalar]) -> list[Test] | None:
    """A list of literals in the order the condition named them (ranges stay sorted)."""
    if not tests or not all(isinstance(t, Equal) for t in tests):
        return tests
    first = {value: i for i, value in reversed(list(enumerate(found)))}
    return sorted(tests, key=lambda t: first.get(t.value, 0) if isinstance(t, Equal) else 0)


def cell_of(
    form: Formula, kind: str, domain: tuple[Scalar, ...] | None = None
) -> UnaryTests | None:
    """The FEEL cell (None for ``-``) that holds exactly when a one-input formula does.

    ``domain`` lists every value the input may take, when it is a closed list.
    """
    found: list[Scalar] = []
    _constants(form, found)
    points_only = kind == "boolean" or domain is not None
    if points_only:
        consts: list[Scalar] = list(domain) if domain is not None else [False, True]
        regions = list(range(len(consts)))
    else:
        consts = sorted(set(found))
        regions = list(range(2 * len(consts) + 1))
    truth = [_holds(form, r, consts, points_only) for r in regions]
    null = _holds(form, None, consts, points_only)
    if points_only:
        positive: list[Test] | None = [Equal(consts[r]) for r in regions if truth[r]]
        negative: list[Test] | None = [Equal(consts[r]) for r in regions if not truth[r]]
        if all(truth):
            positive = None
        elif not positive and not null and domain:
            # Never true for an allowed value: say so with the values themselves.
            return UnaryTests((*(Equal(v) for v in domain), IsNull()), negated=True)
    else:
        positive = _runs(truth, consts)
        negative = _runs([not t for t in truth], consts)
    if positive is None:
        return None if null else UnaryTests((IsNull(),), negated=True)
    positive, negative = _in_given_order(positive, found), _in_given_order(negative, found)
    if not positive:
        if not null:
            raise DmnError("its condition can never hold")
        return UnaryTests((IsNull(),))
    best = UnaryTests((*positive, *((IsNull(),) if null else ())))
    if negative and (not null or all(isinstance(t, Equal) for t in negative)):
        negated = UnaryTests((*negative, *(() if null else (IsNull(),))), negated=True)
        if len(negated.tests) < len(best.tests) or (
            len(negated.tests) == len(best.tests) and _literals(negated) and not _literals(best)
        ):
            return negated
    return best


def _literals(cell: UnaryTests) -> bool:
    return all(isinstance(t, Equal | IsNull) for t in cell.tests)
