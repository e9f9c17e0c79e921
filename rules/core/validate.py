"""Cheap semantic checks every document must pass before it is compiled or versioned.

These need no search over the input space: names resolve, values fit their types and domains,
protected inputs are untouched, hit policy settings agree. The analyses that do search
(overlaps, shadowed rules, gaps) are in :mod:`rules.core.check`.
"""

from __future__ import annotations

from collections.abc import Iterator

from rules.core.document import (
    AllOf,
    AnyOf,
    Between,
    Condition,
    Document,
    Input,
    Leaf,
    Not,
    Output,
    Scalar,
)
from rules.errors import Problem, suggest

__all__ = ["leaves", "validate_document", "value_fits"]

ORDERED_OPS = ("lt", "le", "gt", "ge", "between")


def leaves(cond: Condition | None, where: str) -> Iterator[tuple[Leaf, str]]:
    """Every leaf of a condition with its location, in document order."""
    if cond is None:
        return
    if isinstance(cond, Leaf):
        yield cond, where
    elif isinstance(cond, AllOf | AnyOf):
        key = "all" if isinstance(cond, AllOf) else "any"
        for i, item in enumerate(cond.items):
            yield from leaves(item, f"{where}.{key}[{i}]")
    elif isinstance(cond, Not):
        yield from leaves(cond.item, f"{where}.not")


def value_fits(kind: str, value: object) -> bool:
    """Whether a document value has the declared type (integers accept integral numbers)."""
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return kind == "number" or float(value).is_integer()


def _describe(kind: str) -> str:
    return {"number": "a number", "integer": "an integer", "string": "a string"}.get(
        kind, "true or false"
    )


def _leaf_values(leaf: Leaf) -> list[tuple[Scalar, str]]:
    if isinstance(leaf.value, Between):
        return [(leaf.value.low, ".low"), (leaf.value.high, ".high")]
    if isinstance(leaf.value, tuple):
        return [(v, f"[{i}]") for i, v in enumerate(leaf.value)]
    if leaf.value is None:
        return []
    return [(leaf.value, "")]


def _check_leaf(leaf: Leaf, spec: Input, where: str) -> Iterator[Problem]:
    if spec.protected:
        yield Problem(
            "RB104",
            f"{where}.input",
            f"input {spec.name!r} is protected: no rule may condition on it; remove the condition",
        )
    if spec.type == "boolean" and leaf.op not in ("eq", "ne", "is_null", "not_null"):
        yield Problem(
            "RB103",
            f"{where}.op",
            f"boolean input {spec.name!r} compares only with 'eq' or 'ne', not {leaf.op!r}",
        )
        return
    for value, suffix in _leaf_values(leaf):
        loc = f"{where}.value{suffix}"
        if not value_fits(spec.type, value):
            yield Problem(
                "RB103",
                loc,
                f"{value!r} does not fit input {spec.name!r}: expected {_describe(spec.type)}",
            )
            continue
        yield from _check_domain(spec, value, loc, leaf.op in ORDERED_OPS)
    if isinstance(leaf.value, Between):
        b = leaf.value
        if value_fits(spec.type, b.low) and value_fits(spec.type, b.high) and b.low > b.high:  # type: ignore[operator]
            yield Problem(
                "RB111",
                f"{where}.value",
                f"low {b.low!r} is above high {b.high!r}: the condition can never match",
                severity="warning",
            )


def _check_domain(spec: Input, value: Scalar, loc: str, ordered: bool) -> Iterator[Problem]:
    if spec.values is not None and not ordered and value not in spec.values:
        yield Problem(
            "RB105",
            loc,
            f"{value!r} is not one of input {spec.name!r}'s values "
            f"({', '.join(map(repr, spec.values))})",
            suggest(str(value), [str(v) for v in spec.values]),
        )
    if isinstance(value, int | float) and not isinstance(value, bool):
        if spec.min is not None and value < spec.min:
            yield Problem(
                "RB105", loc, f"{value!r} is below input {spec.name!r}'s minimum {spec.min!r}"
            )
        if spec.max is not None and value > spec.max:
            yield Problem(
                "RB105", loc, f"{value!r} is above input {spec.name!r}'s maximum {spec.max!r}"
            )


def _check_schema(doc: Document) -> Iterator[Problem]:
    named: tuple[tuple[str, list[str]], ...] = (
        ("inputs", [i.name for i in doc.inputs]),
        ("outputs", [o.name for o in doc.outputs]),
    )
    for kind, names in named:
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                yield Problem("RB107", f"{kind}[{i}].name", f"{name!r} is declared twice")
            seen.add(name)
    for i, spec in enumerate(doc.inputs):
        where = f"inputs[{i}]"
        if spec.type in ("string", "boolean") and (spec.min is not None or spec.max is not None):
            yield Problem("RB103", where, f"min and max apply to numbers, not to {spec.type}s")
        if spec.min is not None and spec.max is not None and spec.min > spec.max:
            yield Problem("RB111", f"{where}.min", f"min {spec.min!r} is above max {spec.max!r}")
        for j, value in enumerate(spec.values or ()):
            if not value_fits(spec.type, value):
                yield Problem(
                    "RB103", f"{where}.values[{j}]", f"{value!r} is not {_describe(spec.type)}"
                )
    for i, out in enumerate(doc.outputs):
        yield from _check_output(out, f"outputs[{i}]")


def _check_output(out: Output, where: str) -> Iterator[Problem]:
    for j, value in enumerate(out.values or ()):
        if not value_fits(out.type, value):
            yield Problem(
                "RB103", f"{where}.values[{j}]", f"{value!r} is not {_describe(out.type)}"
            )
    if out.default is not None:
        yield from _check_output_value(out, out.default, f"{where}.default")


def _check_output_value(out: Output, value: Scalar, loc: str) -> Iterator[Problem]:
    if not value_fits(out.type, value):
        yield Problem(
            "RB103",
            loc,
            f"{value!r} does not fit output {out.name!r}: expected {_describe(out.type)}",
        )
    elif out.values is not None and value not in out.values:
        yield Problem(
            "RB108",
            loc,
            f"{value!r} is not one of output {out.name!r}'s values "
            f"({', '.join(map(repr, out.values))})",
            suggest(str(value), [str(v) for v in out.values]),
        )


def _check_policy(doc: Document) -> Iterator[Problem]:
    if doc.aggregation is not None:
        if doc.hit_policy != "COLLECT":
            yield Problem(
                "RB109",
                "aggregation",
                f"aggregation applies only to hit policy COLLECT, not {doc.hit_policy}; "
                "remove it or use COLLECT",
            )
        if len(doc.outputs) != 1:
            yield Problem(
                "RB109", "aggregation", "an aggregation needs exactly one output to aggregate"
            )
        elif doc.aggregation != "COUNT" and (
            doc.outputs[0].type == "boolean"
            or (doc.aggregation == "SUM" and doc.outputs[0].type == "string")
        ):
            yield Problem(
                "RB109",
                "aggregation",
                f"{doc.aggregation} needs a number output, not {doc.outputs[0].type}",
            )
    yield from _check_ranking(doc)
    if doc.review is not None:
        review_out = doc.output(doc.review.output)
        if review_out is None:
            yield Problem(
                "RB102",
                "review.output",
                f"unknown output {doc.review.output!r}",
                suggest(doc.review.output, [o.name for o in doc.outputs]),
            )
        else:
            for j, value in enumerate(doc.review.values):
                yield from _check_output_value(review_out, value, f"review.values[{j}]")


def _check_ranking(doc: Document) -> Iterator[Problem]:
    """PRIORITY and OUTPUT ORDER rank by the outputs that declare ``values`` (DMN 1.5 and its
    TCK, cases 0110 and 0118): a table needs at least one; outputs without any do not rank."""
    if doc.hit_policy not in ("PRIORITY", "OUTPUT ORDER"):
        return
    if any(out.values for out in doc.outputs):
        return
    if len(doc.outputs) == 1:
        message = (
            f"hit policy {doc.hit_policy} ranks results by each output's 'values' "
            f"order: declare the values of {doc.outputs[0].name!r}"
        )
    else:
        names = ", ".join(repr(out.name) for out in doc.outputs)
        message = (
            f"hit policy {doc.hit_policy} ranks results by the 'values' order of the outputs "
            f"that declare them, and none of {names} does: declare the values of at least one"
        )
    yield Problem("RB109", "outputs[0].values", message)


def _check_rules(doc: Document) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    names = [i.name for i in doc.inputs]
    for r, rule in enumerate(doc.rules):
        where = f"rules[{r}]"
        if rule.id in seen:
            yield Problem(
                "RB106",
                f"{where}.id",
                f"rule id {rule.id!r} is already used by rules[{seen[rule.id]}]; ids are unique",
            )
        seen.setdefault(rule.id, r)
        for leaf, loc in leaves(rule.when, f"{where}.when"):
            spec = doc.input(leaf.input)
            if spec is None:
                yield Problem(
                    "RB101",
                    f"{loc}.input",
                    f"unknown input {leaf.input!r}",
                    suggest(leaf.input, names),
                )
                continue
            yield from _check_leaf(leaf, spec, loc)
        for key, value in rule.then:
            out = doc.output(key)
            if out is None:
                yield Problem(
                    "RB102",
                    f"{where}.then.{key}",
                    f"unknown output {key!r}",
                    suggest(key, [o.name for o in doc.outputs]),
                )
            elif value is not None:
                yield from _check_output_value(out, value, f"{where}.then.{key}")


def validate_document(doc: Document) -> list[Problem]:
    """All cheap semantic problems (errors and warnings), in document order."""
    return [*_check_schema(doc), *_check_policy(doc), *_check_rules(doc)]
