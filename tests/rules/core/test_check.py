"""The static analyses (RB201-RB205, RB299): hand-written cases for every code, generated
4,000-rule rulesets, and a property test that every witness behaves as claimed and that an
absent finding is not contradicted by sampling.

Every witness is evaluated twice: by :func:`rules.core.engine.evaluate` and by the small
three-valued evaluator below, written from DESIGN §2 and sharing no code with the checker.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.core.check import Finding, Limits, analyse_document, check_document
from rules.core.document import AllOf, AnyOf, Between, Condition, Document, Leaf, parse_document
from rules.core.engine import CompiledRuleset, compile_document, evaluate
from rules.core.facts import validate_facts
from rules.core.validate import validate_document

Facts = Mapping[str, Any]

INPUTS: list[dict[str, Any]] = [
    {"name": "x", "type": "integer"},
    {"name": "y", "type": "number", "required": False},
    {"name": "s", "type": "string", "required": False},
    {"name": "b", "type": "boolean", "required": False},
]


def leaf(name: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"input": name, "op": op} if value is None else {"input": name, "op": op, "value": value}


def rule(rid: str, when: dict[str, Any] | None = None, o: str | None = "yes") -> dict[str, Any]:
    out: dict[str, Any] = {"id": rid, "then": {} if o is None else {"o": o}}
    if when is not None:
        out["when"] = when
    return out


def document(
    rules: list[dict[str, Any]],
    policy: str = "UNIQUE",
    inputs: list[dict[str, Any]] | None = None,
    default: str | None = None,
    aggregation: str | None = None,
) -> Document:
    output: dict[str, Any] = {"name": "o", "type": "string"}
    if default is not None:
        output["default"] = default
    data: dict[str, Any] = {
        "name": "checks",
        "inputs": INPUTS if inputs is None else inputs,
        "outputs": [output],
        "hit_policy": policy,
        "rules": rules,
    }
    if aggregation is not None:
        data["aggregation"] = aggregation
    return parse_document(data)


# --------------------------------------------------------------------------- an oracle


def _compare(op: str, x: Any, v: Any) -> bool:
    if op in ("eq", "ne"):
        return bool(x == v) == (op == "eq")
    return bool({"lt": x < v, "le": x <= v, "gt": x > v, "ge": x >= v}[op])


def truth(cond: Condition | None, facts: Facts) -> bool | None:
    """Kleene truth of a condition: a leaf on null is unknown except is_null/not_null."""
    if cond is None:
        return True
    if isinstance(cond, AllOf | AnyOf):
        values = [truth(c, facts) for c in cond.items]
        stop = isinstance(cond, AnyOf)
        return stop if stop in values else (None if None in values else not stop)
    if not isinstance(cond, Leaf):
        inner = truth(cond.item, facts)
        return None if inner is None else not inner
    x = facts.get(cond.input)
    if cond.op in ("is_null", "not_null"):
        return (x is None) == (cond.op == "is_null")
    if x is None:
        return None
    v = cond.value
    if isinstance(v, Between):
        return _compare("ge" if v.low_inclusive else "gt", x, v.low) and _compare(
            "le" if v.high_inclusive else "lt", x, v.high
        )
    if isinstance(v, tuple):
        return (x in v) == (cond.op == "in")
    return _compare(cond.op, x, v)


def matching(doc: Document, facts: Facts) -> list[int]:
    return [i for i, r in enumerate(doc.rules) if truth(r.when, facts) is True]


def row(doc: Document, i: int) -> dict[str, Any]:
    given = doc.rules[i].then_dict
    return {o.name: given.get(o.name, o.default) for o in doc.outputs}


def confirm(
    doc: Document, finding: Finding, compiled: CompiledRuleset | None = None
) -> dict[str, Any]:
    """Assert that a finding's witness is valid and does what the finding says, both for
    the oracle above and for the engine (``compiled``, else the default engine)."""
    facts = finding.facts
    assert facts is not None
    clean = validate_facts(doc, facts)
    mine = matching(doc, clean)
    result = evaluate(doc, facts) if compiled is None else compiled.evaluate(clean)
    assert [doc.rules[i].id for i in mine] == list(result.matched)
    code = finding.problem.code
    if code in ("RB201", "RB202"):
        i, j = finding.rules
        assert i < j
        assert {i, j} <= set(mine)
        assert result.error is not None
        assert result.outputs is None
        if code == "RB202":
            assert row(doc, i) != row(doc, j)
    else:
        assert code == "RB204"
        assert mine == []
        assert result.outputs is None
        assert result.exception
    return facts


def codes(findings: Sequence[Finding]) -> list[str]:
    return [f.problem.code for f in findings]


def only(findings: Sequence[Finding], code: str) -> Finding:
    matches = [f for f in findings if f.problem.code == code]
    assert len(matches) == 1, findings
    return matches[0]


# --------------------------------------------------------------------------- RB201 overlaps


def test_overlap_is_reported_on_the_later_rule_with_a_witness() -> None:
    doc = document(
        [
            rule("low", leaf("x", "lt", 5)),
            rule("band", leaf("x", "between", {"low": 3, "high": 8})),
        ]
    )
    finding = only(analyse_document(doc), "RB201")
    assert finding.problem.location == "rules[1]"
    assert finding.problem.severity == "error"
    assert "'low'" in finding.problem.message
    assert "'band'" in finding.problem.message
    assert confirm(doc, finding)["x"] in (3, 4)
    assert '"x": ' in finding.problem.message


@pytest.mark.parametrize("name", ["x", "y"])
@pytest.mark.parametrize(
    ("first", "second"),
    [
        (leaf("{}", "lt", 3), leaf("{}", "ge", 3)),
        (leaf("{}", "le", 3), leaf("{}", "gt", 3)),
        (leaf("{}", "eq", 3), leaf("{}", "ne", 3)),
        (leaf("{}", "in", [1, 2]), leaf("{}", "not_in", [1, 2])),
        (
            leaf("{}", "between", {"low": 0, "high": 3, "high_inclusive": False}),
            leaf("{}", "between", {"low": 3, "high": 6}),
        ),
    ],
)
def test_touching_conditions_do_not_overlap(
    name: str, first: dict[str, Any], second: dict[str, Any]
) -> None:
    a, b = ({**c, "input": name} for c in (first, second))
    doc = document([rule("a", a), rule("b", b)])
    assert "RB201" not in codes(analyse_document(doc))


def test_not_over_a_null_input_never_matches() -> None:
    # not(y == 1) is unknown for a null y, so it cannot overlap "y is null".
    doc = document([rule("a", {"not": leaf("y", "eq", 1)}), rule("b", leaf("y", "is_null"))])
    assert "RB201" not in codes(analyse_document(doc))


def test_overlap_witness_can_need_a_null_input() -> None:
    doc = document([rule("a", leaf("y", "is_null")), rule("b", leaf("x", "gt", 0))])
    facts = confirm(doc, only(analyse_document(doc), "RB201"))
    assert facts.get("y") is None
    assert facts["x"] > 0


def test_string_ranges_compare_by_code_point() -> None:
    apart = document([rule("a", leaf("s", "lt", "m")), rule("b", leaf("s", "ge", "m"))])
    assert "RB201" not in codes(analyse_document(apart))
    close = document([rule("a", leaf("s", "lt", "m")), rule("b", leaf("s", "gt", "k"))])
    assert "k" < confirm(close, only(analyse_document(close), "RB201"))["s"] < "m"


def test_strings_between_a_string_and_its_extensions_are_found() -> None:
    # "a" < "a\0" < "a_" < "aa": the space between "a" and "aa" is not empty.
    doc = document([rule("a", leaf("s", "gt", "a")), rule("b", leaf("s", "lt", "aa"))])
    assert "a" < confirm(doc, only(analyse_document(doc), "RB201"))["s"] < "aa"
    dead = document([rule("a", {"all": [leaf("s", "gt", "a"), leaf("s", "lt", "a\0")]})])
    assert codes(analyse_document(dead)) == ["RB205", "RB204"]


def test_declared_values_restrict_the_space() -> None:
    inputs = [{"name": "c", "type": "string", "values": ["a", "b", "c"]}]
    apart = document(
        [rule("in", leaf("c", "in", ["a", "b"])), rule("out", leaf("c", "not_in", ["a", "b"]))],
        inputs=inputs,
    )
    assert codes(analyse_document(apart)) == []
    close = document(
        [rule("in", leaf("c", "in", ["a", "b"])), rule("not-a", leaf("c", "ne", "a"))],
        inputs=inputs,
    )
    assert confirm(close, only(analyse_document(close), "RB201")) == {"c": "b"}


def test_booleans_overlap_only_where_both_are_true() -> None:
    apart = document([rule("t", leaf("b", "eq", True)), rule("f", leaf("b", "eq", False))])
    assert "RB201" not in codes(analyse_document(apart))
    close = document(
        [rule("t", leaf("b", "eq", True)), rule("nf", {"not": leaf("b", "eq", False)})]
    )
    assert confirm(close, only(analyse_document(close), "RB201"))["b"] is True


def test_an_overlap_through_a_later_alternative_is_found() -> None:
    either = {"all": [{"any": [leaf("b", "eq", True), leaf("x", "eq", 1)]}, leaf("y", "gt", 0)]}
    other = {"all": [leaf("x", "eq", 1), leaf("b", "eq", False)]}
    doc = document([rule("either", either), rule("other", other)])
    facts = confirm(doc, only(analyse_document(doc), "RB201"))
    assert facts["x"] == 1
    assert facts["b"] is False


def test_every_overlapping_pair_is_reported_once() -> None:
    doc = document([rule(f"r{i}", leaf("x", "ge", i)) for i in range(4)])
    found = [f for f in analyse_document(doc) if f.problem.code == "RB201"]
    assert sorted(f.rules for f in found) == sorted(itertools.combinations(range(4), 2))
    for finding in found:
        confirm(doc, finding)


# --------------------------------------------------------------------------- RB202 conflicts


def test_any_reports_only_overlaps_with_different_outputs() -> None:
    doc = document(
        [
            rule("a", leaf("x", "lt", 5), o="yes"),
            rule("same", leaf("x", "lt", 3), o="yes"),
            rule("by-default", leaf("x", "lt", 2), o=None),  # the default, "yes"
            rule("other", leaf("x", "gt", 3), o="no"),
        ],
        policy="ANY",
        default="yes",
    )
    finding = only(analyse_document(doc), "RB202")
    assert finding.rules == (0, 3)
    assert finding.problem.location == "rules[3]"
    assert confirm(doc, finding)["x"] == 4
    assert "'o'" in finding.problem.message


# --------------------------------------------------------------------------- RB203 shadowing


def test_a_rule_inside_an_earlier_one_is_shadowed() -> None:
    doc = document(
        [
            rule("all", leaf("x", "ge", 0)),
            rule("some", leaf("x", "between", {"low": 1, "high": 5})),
        ],
        policy="FIRST",
    )
    finding = only(analyse_document(doc), "RB203")
    assert finding.problem.location == "rules[1]"
    assert finding.problem.severity == "warning"
    assert finding.rules == (0, 1)
    assert "rules[0] 'all'" in finding.problem.message


def test_a_rule_covered_by_several_earlier_ones_names_them() -> None:
    doc = document(
        [
            rule("low", leaf("x", "lt", 5)),
            rule("high", leaf("x", "ge", 3)),
            rule("band", leaf("x", "between", {"low": 1, "high": 10})),
        ],
        policy="FIRST",
    )
    finding = only(analyse_document(doc), "RB203")
    assert finding.rules == (0, 1, 2)
    assert "'low'" in finding.problem.message
    assert "'high'" in finding.problem.message


def test_true_false_and_null_cover_a_boolean() -> None:
    doc = document(
        [
            rule("t", leaf("b", "eq", True)),
            rule("f", leaf("b", "eq", False)),
            rule("n", leaf("b", "is_null")),
            rule("late", leaf("x", "eq", 1)),
        ],
        policy="FIRST",
    )
    assert only(analyse_document(doc), "RB203").rules == (0, 1, 2, 3)


@pytest.mark.parametrize(
    ("rules", "facts"),
    [
        ([rule("gt", leaf("x", "gt", 2)), rule("ge", leaf("x", "ge", 2))], {"x": 2}),
        (
            [
                rule("t", leaf("b", "eq", True)),
                rule("f", leaf("b", "eq", False)),
                rule("x", leaf("x", "eq", 1)),
            ],
            {"x": 1},
        ),
        (
            [
                rule("le", leaf("y", "le", 2)),
                rule("ge", leaf("y", "ge", 3)),
                rule("band", leaf("y", "between", {"low": 2, "high": 3})),
            ],
            {"x": 0, "y": 2.5},
        ),
    ],
)
def test_a_rule_that_can_fire_is_not_reported(
    rules: list[dict[str, Any]], facts: dict[str, Any]
) -> None:
    doc = document(rules, policy="FIRST")
    assert "RB203" not in codes(analyse_document(doc))
    assert evaluate(doc, facts).rule_ids == (doc.rules[-1].id,)


def test_an_unsatisfiable_rule_is_not_also_shadowed() -> None:
    doc = document(
        [rule("any"), rule("never", {"all": [leaf("x", "gt", 5), leaf("x", "lt", 3)]})],
        policy="FIRST",
    )
    assert codes(analyse_document(doc)) == ["RB205"]


# --------------------------------------------------------------------------- RB204 gaps


def test_a_gap_is_reported_with_a_witness() -> None:
    doc = document([rule("lt", leaf("x", "lt", 3)), rule("gt", leaf("x", "gt", 3))])
    finding = only(analyse_document(doc), "RB204")
    assert finding.problem.location == "rules"
    assert finding.problem.severity == "warning"
    assert confirm(doc, finding) == {"x": 3}
    assert "'o'" in finding.problem.message


@pytest.mark.parametrize(
    "conditions",
    [
        [leaf("x", "lt", 3), leaf("x", "ge", 3)],
        [leaf("x", "le", 2), leaf("x", "ge", 3)],
        [leaf("x", "in", [1, 2]), leaf("x", "not_in", [1, 2])],
        [leaf("x", "between", {"low": 0, "high": 5}), leaf("x", "lt", 0), leaf("x", "gt", 5)],
    ],
)
def test_complete_integer_coverage_has_no_gap(conditions: list[dict[str, Any]]) -> None:
    doc = document([rule(f"r{i}", c) for i, c in enumerate(conditions)])
    assert "RB204" not in codes(analyse_document(doc))


def test_a_number_input_has_room_between_integers() -> None:
    inputs = [{"name": "n", "type": "number"}]
    doc = document([rule("le", leaf("n", "le", 2)), rule("ge", leaf("n", "ge", 3))], inputs=inputs)
    assert 2 < confirm(doc, only(analyse_document(doc), "RB204"))["n"] < 3


@pytest.mark.parametrize("required", [True, False])
def test_true_false_and_null_leave_no_gap_in_a_boolean(required: bool) -> None:
    inputs = [{"name": "b", "type": "boolean", "required": required}]
    rules = [rule("t", leaf("b", "eq", True)), rule("f", leaf("b", "ne", True))]
    if not required:
        rules.append(rule("n", leaf("b", "is_null")))
    doc = document(rules, inputs=inputs)
    assert codes(analyse_document(doc)) == []


def test_null_joins_the_values_an_alternative_allows() -> None:
    doc = document(
        [
            rule("null-or-1", {"any": [leaf("y", "is_null"), leaf("y", "eq", 1)]}),
            rule("other", leaf("y", "ne", 1)),
        ]
    )
    assert analyse_document(doc) == []


def test_a_missing_optional_input_is_a_gap() -> None:
    inputs = [{"name": "b", "type": "boolean", "required": False}]
    doc = document(
        [rule("t", leaf("b", "eq", True)), rule("f", leaf("b", "eq", False))], inputs=inputs
    )
    assert confirm(doc, only(analyse_document(doc), "RB204")).get("b") is None


def test_bounds_and_values_limit_the_space_to_cover() -> None:
    inputs: list[dict[str, Any]] = [
        {"name": "x", "type": "integer", "min": 0, "max": 10},
        {"name": "c", "type": "string", "values": ["a", "b"]},
    ]
    doc = document(
        [
            rule("low-a", {"all": [leaf("x", "le", 5), leaf("c", "eq", "a")]}),
            rule("high-a", {"all": [leaf("x", "ge", 6), leaf("c", "eq", "a")]}),
            rule("b", leaf("c", "ne", "a")),
        ],
        inputs=inputs,
    )
    assert codes(analyse_document(doc)) == []


@pytest.mark.parametrize(
    ("policy", "default", "aggregation"),
    [("UNIQUE", "none", None), ("COLLECT", None, "COUNT")],
)
def test_no_gap_is_reported_when_no_match_is_not_null(
    policy: str, default: str | None, aggregation: str | None
) -> None:
    doc = document(
        [rule("one", leaf("x", "eq", 1))], policy=policy, default=default, aggregation=aggregation
    )
    assert analyse_document(doc) == []


def test_no_rules_at_all_is_one_gap() -> None:
    doc = document([])
    assert confirm(doc, only(analyse_document(doc), "RB204")) == {"x": 0}


# --------------------------------------------------------------------------- RB205 dead rules


@pytest.mark.parametrize(
    "when",
    [
        {"all": [leaf("x", "gt", 5), leaf("x", "lt", 3)]},
        leaf("x", "is_null"),  # x is required
        {"all": [{"not": leaf("b", "eq", True)}, {"not": leaf("b", "eq", False)}]},
        {"all": [leaf("s", "ge", "b"), leaf("s", "lt", "b")]},
        {"all": [leaf("y", "gt", 1), leaf("y", "lt", 1.0000000000000002)]},
        {"all": [leaf("y", "is_null"), {"not": leaf("y", "eq", 1)}]},
    ],
)
def test_a_condition_that_is_never_true_is_reported(when: dict[str, Any]) -> None:
    doc = document([rule("ok", leaf("x", "eq", 1)), rule("dead", when)], policy="FIRST")
    finding = only(analyse_document(doc), "RB205")
    assert finding.problem.location == "rules[1].when"
    assert finding.problem.severity == "warning"
    assert "'dead'" in finding.problem.message


def test_bounds_make_a_condition_dead() -> None:
    inputs = [{"name": "x", "type": "integer", "min": 0, "max": 10}]
    dead = document([rule("over", leaf("x", "gt", 10))], inputs=inputs, default="no")
    assert codes(analyse_document(dead)) == ["RB205"]
    alive = document([rule("top", leaf("x", "gt", 9))], inputs=inputs, default="no")
    assert analyse_document(alive) == []


# --------------------------------------------------------------------------- check_document


def test_check_document_skips_the_analyses_when_validation_fails() -> None:
    inputs = [*INPUTS, {"name": "p", "type": "boolean", "required": False, "protected": True}]
    doc = document([rule("a", leaf("p", "eq", True)), rule("b", leaf("x", "gt", 0))], inputs=inputs)
    assert [p.code for p in check_document(doc)] == ["RB104"]


def test_check_document_adds_the_analyses_to_validation_warnings() -> None:
    doc = document(
        [rule("a", leaf("x", "between", {"low": 5, "high": 1})), rule("b", leaf("x", "ge", 0))],
        default="no",
    )
    assert validate_document(doc)[0].code == "RB111"
    assert [p.code for p in check_document(doc)] == ["RB111", "RB205"]
    assert check_document(doc)[1].as_dict()["location"] == "rules[0].when"


# --------------------------------------------------------------------------- RB299 limits


def test_a_condition_too_large_to_expand_is_reported_not_guessed() -> None:
    wide = {"any": [leaf("x", "eq", 1), leaf("y", "eq", 2), leaf("s", "eq", "z")]}
    doc = document([rule("wide", wide), rule("one", leaf("x", "eq", 1))])
    findings = analyse_document(doc, Limits(alternatives=2))
    capped = only(findings, "RB299")
    assert capped.problem.location == "rules[0].when"
    assert capped.problem.severity == "info"
    for finding in findings:
        if finding.witness is not None:
            confirm(doc, finding)
    assert "RB205" not in codes(findings)


def test_a_work_limit_stops_an_analysis_with_an_info() -> None:
    doc = document([rule(f"r{i}", leaf("x", "ge", i)) for i in range(60)], policy="FIRST")
    findings = analyse_document(doc, Limits(work=200))
    assert "RB299" in codes(findings)
    assert all(f.problem.severity == "info" for f in findings if f.problem.code == "RB299")


def test_reporting_stops_after_the_limit() -> None:
    doc = document([rule(f"r{i}", leaf("x", "ge", i)) for i in range(10)], default="no")
    findings = analyse_document(doc, Limits(reported=5))
    assert codes(findings) == ["RB201"] * 5 + ["RB299"]
    for finding in findings[:5]:
        confirm(doc, finding)


# --------------------------------------------------------------------------- 4,000 rules


def rate_table(hole: int | None = None) -> Document:
    """10 age bands x 40 amount bands x 10 regions: 4,000 disjoint rules covering the space."""
    inputs: list[dict[str, Any]] = [
        {"name": "age", "type": "integer", "min": 0, "max": 120},
        {"name": "amount", "type": "number", "min": 0},
        {"name": "region", "type": "string", "values": [f"r{g}" for g in range(10)]},
    ]
    ages = [0, 18, 25, 30, 35, 40, 45, 50, 60, 70, None]
    rules = []
    for a, m, g in itertools.product(range(10), range(40), range(10)):
        cond = [leaf("age", "ge", ages[a]), leaf("amount", "ge", m * 1000)]
        if ages[a + 1] is not None:
            cond.append(leaf("age", "lt", ages[a + 1]))
        if m < 39:
            cond.append(leaf("amount", "lt", (m + 1) * 1000))
        cond.append(leaf("region", "eq", f"r{g}"))
        rules.append(rule(f"r{a}-{m}-{g}", {"all": cond}))
    if hole is not None:
        del rules[hole]
    return document(rules, inputs=inputs)


def range_heavy(policy: str, seed: int = 1) -> Document:
    """4,000 rules ``f_i >= low and f_j < high`` over 8 bounded numbers: overlaps everywhere."""
    rnd = random.Random(seed)
    inputs = [{"name": f"f{i}", "type": "number", "min": 0, "max": 100} for i in range(8)]
    rules = []
    for r in range(4000):
        i, j = rnd.sample(range(8), 2)
        low, high = round(rnd.uniform(0, 60), 1), round(rnd.uniform(40, 100), 1)
        cond = {"all": [leaf(f"f{i}", "ge", low), leaf(f"f{j}", "lt", high)]}
        rules.append(rule(f"rule-{r}", cond, o=rnd.choice(["yes", "no"])))
    return document(rules, policy=policy, inputs=inputs)


@pytest.fixture
def compiled() -> Iterator[Callable[[Document], CompiledRuleset]]:
    """Compile large documents once (the default engine hashes the document per call)."""
    made: list[CompiledRuleset] = []

    def compile_once(doc: Document) -> CompiledRuleset:
        made.append(compile_document(doc))
        return made[-1]

    yield compile_once
    for item in made:
        item.close()


def test_a_4000_rule_table_of_disjoint_ranges_is_checked_exactly(
    compiled: Callable[[Document], CompiledRuleset],
) -> None:
    assert analyse_document(rate_table()) == []
    doc = rate_table(hole=1234)  # age 30-35, amount 3000-4000, region r4
    facts = confirm(doc, only(analyse_document(doc), "RB204"), compiled(doc))
    assert 30 <= facts["age"] < 35
    assert 3000 <= facts["amount"] < 4000
    assert facts["region"] == "r4"


@pytest.mark.parametrize("policy", ["UNIQUE", "FIRST"])
def test_a_4000_rule_range_heavy_ruleset_finishes_with_sound_findings(
    policy: str, compiled: Callable[[Document], CompiledRuleset]
) -> None:
    doc = range_heavy(policy)
    started = time.perf_counter()
    findings = analyse_document(doc)
    assert time.perf_counter() - started < 60  # a few seconds in practice; only a sanity bound
    engine = compiled(doc)
    for finding in [f for f in findings if f.witness is not None][:5]:
        confirm(doc, finding, engine)
    if policy == "UNIQUE":
        assert codes(findings).count("RB201") == Limits().reported
    else:  # too many overlapping pairs to decide shadowing within the work limit
        assert only(findings, "RB299").problem.message.startswith("the shadowing check")
    assert "RB299" in codes(findings)
    gap = only(findings, "RB204")  # f_j < high <= 100 never holds at the upper corner
    assert set(confirm(doc, gap, engine).values()) == {100}


# --------------------------------------------------------------------------- properties

# Input kinds for generated documents, and the constants their conditions use.
KINDS: dict[str, dict[str, Any]] = {
    "integer": {"type": "integer"},
    "bounded": {"type": "integer", "min": 0, "max": 4},
    "number": {"type": "number"},
    "string": {"type": "string"},
    "enum": {"type": "string", "values": ["a", "b", "c"]},
    "boolean": {"type": "boolean"},
}
CONSTANTS: dict[str, list[Any]] = {
    "integer": [-1, 0, 1, 2, 3],
    "bounded": [0, 1, 2, 4],
    "number": [-1, 0, 0.5, 1, 2.5, 3],
    "string": ["", "a", "aa", "ab", "b"],
    "enum": ["a", "b", "c"],
    "boolean": [True, False],
}
ORDERED = ["eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "between", "is_null", "not_null"]


@st.composite
def leaves_for(draw: st.DrawFn, inputs: list[tuple[str, str]]) -> dict[str, Any]:
    name, kind = draw(st.sampled_from(inputs))
    ops = ["eq", "ne", "is_null", "not_null"] if kind == "boolean" else ORDERED
    op = draw(st.sampled_from(ops))
    constant = st.sampled_from(CONSTANTS[kind])
    if op in ("is_null", "not_null"):
        return leaf(name, op)
    if op in ("in", "not_in"):
        return leaf(name, op, draw(st.lists(constant, min_size=1, max_size=3)))
    if op == "between":
        low, high = sorted([draw(constant), draw(constant)])
        flags = {"low_inclusive": draw(st.booleans()), "high_inclusive": draw(st.booleans())}
        return leaf(name, op, {"low": low, "high": high, **flags})
    return leaf(name, op, draw(constant))


def conditions(inputs: list[tuple[str, str]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        leaves_for(inputs),
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=3).map(lambda c: {"all": c}),
            st.lists(inner, min_size=1, max_size=3).map(lambda c: {"any": c}),
            inner.map(lambda c: {"not": c}),
        ),
        max_leaves=4,
    )


Case = tuple[Document, list[str]]


@st.composite
def documents(draw: st.DrawFn) -> Case:
    """A small valid document, with the kind of each input."""
    kinds = draw(st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=3))
    inputs = [(f"i{k}", kind) for k, kind in enumerate(kinds)]
    specs = [
        {"name": name, **KINDS[kind], "required": draw(st.booleans())} for name, kind in inputs
    ]
    whens = draw(st.lists(st.none() | conditions(inputs), min_size=0, max_size=5))
    outputs = [draw(st.sampled_from(["p", "q"])) for _ in whens]
    rules = [rule(f"r{k}", when, o) for k, (when, o) in enumerate(zip(whens, outputs, strict=True))]
    policy = draw(st.sampled_from(["UNIQUE", "ANY", "FIRST", "RULE ORDER"]))
    default = draw(st.none() | st.just("p"))
    return document(rules, policy, specs, default=default), kinds


def _nearby(kind: str, value: Any) -> list[Any]:
    if kind in ("integer", "bounded"):
        return [value - 1, value, value + 1]
    if kind == "number":
        return [value - 0.5, value, value + 0.25, math.nextafter(value, math.inf)]
    if kind in ("string", "enum"):
        return [value, value + "\0", value + "a", "zz"]
    return [value]


def _fits(doc: Document, name: str, value: Any) -> bool:
    spec = doc.input(name)
    assert spec is not None
    if spec.values is not None:
        return value in spec.values
    low = -math.inf if spec.min is None else spec.min
    high = math.inf if spec.max is None else spec.max
    return isinstance(value, str | bool) or low <= value <= high


def samples(doc: Document, kinds: list[str], count: int = 600) -> list[dict[str, Any]]:
    """Valid facts on and around every constant a document of these kinds can use, and nulls."""
    pools = []
    for spec, kind in zip(doc.inputs, kinds, strict=True):
        near = {v for c in CONSTANTS[kind] for v in _nearby(kind, c)}
        pool: list[Any] = sorted(v for v in near if _fits(doc, spec.name, v))
        pools.append(pool if spec.required else [*pool, None])
    combos = list(itertools.product(*pools))
    random.Random(0).shuffle(combos)
    names = [spec.name for spec in doc.inputs]
    return [dict(zip(names, combo, strict=True)) for combo in combos[:count]]


def _pairs(doc: Document, matched: list[int]) -> set[tuple[int, int]]:
    """The pairs of matched rules that break the document's hit policy."""
    pairs = set(itertools.combinations(matched, 2))
    if doc.hit_policy == "ANY":
        return {(i, j) for i, j in pairs if row(doc, i) != row(doc, j)}
    return pairs if doc.hit_policy == "UNIQUE" else set()


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_findings_are_true_and_silence_is_not_contradicted_by_sampling(case: Case) -> None:
    doc, kinds = case
    assert not [p for p in validate_document(doc) if p.severity == "error"]
    findings = analyse_document(doc)
    for finding in findings:
        if finding.witness is not None:
            confirm(doc, finding)
    found = {
        code: [f.rules for f in findings if f.problem.code == code] for code in codes(findings)
    }
    dead = {rules[0] for rules in found.get("RB205", [])}
    shadowed = {rules[-1] for rules in found.get("RB203", [])}
    conflicts = set(found.get("RB201", []) + found.get("RB202", []))
    needs_match = any(not o.has_default for o in doc.outputs)
    for facts in samples(doc, kinds):
        matched = matching(doc, validate_facts(doc, facts))
        assert not dead & set(matched), facts
        assert not {j for j in shadowed if j in matched and min(matched) == j}, facts
        assert _pairs(doc, matched) <= conflicts, facts
        assert matched or not needs_match or "RB204" in found, facts
    assert "RB299" not in found
