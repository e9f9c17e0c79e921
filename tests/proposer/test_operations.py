"""Typed change operations: strict reading, all-or-nothing application, diff and scope."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proposer import (
    AddRule,
    MoveRule,
    Operation,
    OperationError,
    RemoveRule,
    UpdateRule,
    apply,
    diff_operations,
    parse_operation,
    parse_operations,
    scope,
)
from proposer.operations import MAX_OPERATIONS, rule_to_dict
from rules.core.document import MAX_RULES, Document, Input, Rule, load_document, parse_document
from rules.core.engine import evaluate
from rules.store.demo import DEMO_RULESET

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MORTGAGE = load_document((EXAMPLES / "mortgage.yaml").read_text())
HMDA = load_document(DEMO_RULESET.read_text())
BOTH = pytest.mark.parametrize("base", [MORTGAGE, HMDA], ids=["mortgage", "hmda"])

APPROVE_LOW_HOUSING = {
    "id": "approve-low-housing",
    "description": "Low housing cost and a clean record",
    "when": {
        "all": [
            {"input": "hirat", "op": "lt", "value": 0.2},
            {"input": "mhist", "op": "eq", "value": 1},
        ]
    },
    "then": {"outcome": "approve", "reason": "Low housing cost"},
}


def ids(doc: Document) -> list[str]:
    return [r.id for r in doc.rules]


def add(position: int, rule: dict[str, Any] = APPROVE_LOW_HOUSING) -> AddRule:
    return AddRule.from_dict({"op": "add_rule", "position": position, "rule": rule})


def problems_of(exc: pytest.ExceptionInfo[OperationError]) -> list[tuple[str, str, str | None]]:
    return [(p.code, p.location, p.suggestion) for p in exc.value.problems]


# --------------------------------------------------------------------------- each operation


@BOTH
def test_add_rule_lands_at_its_position(base: Document) -> None:
    first = apply(base, [add(0)])
    last = apply(base, [add(len(base.rules))])
    assert ids(first) == ["approve-low-housing", *ids(base)]
    assert ids(last) == [*ids(base), "approve-low-housing"]
    assert first.rules[0].then_dict == {"outcome": "approve", "reason": "Low housing cost"}
    assert (first.inputs, first.outputs, first.hit_policy) == (base.inputs, base.outputs, "FIRST")


def test_an_added_rule_decides_in_the_candidate() -> None:
    facts = {"pirat": 0.5, "hirat": 0.1, "lvrat": 0.8, "chist": 3, "mhist": 1, "phist": False}
    facts |= {"insurance": False}
    assert evaluate(MORTGAGE, facts).outputs == {"outcome": "refer", "reason": "No rule matched"}
    candidate = apply(MORTGAGE, [add(1)])
    assert evaluate(candidate, facts).outputs == {
        "outcome": "approve",
        "reason": "Low housing cost",
    }
    assert evaluate(candidate, facts).rule_ids == ("approve-low-housing",)


@BOTH
def test_update_rule_replaces_when_then_description_and_keeps_id_and_place(base: Document) -> None:
    target = base.rules[-1].id
    new = {"when": {"input": "pirat", "op": "le", "value": 0.25}, "then": {"outcome": "approve"}}
    op = UpdateRule.from_dict({"op": "update_rule", "rule_id": target, "rule": new})
    candidate = apply(base, [op])
    assert ids(candidate) == ids(base)
    rule = candidate.rules[-1]
    assert (rule.id, rule.then_dict, rule.description) == (target, {"outcome": "approve"}, None)
    assert rule_to_dict(rule)["when"] == new["when"]
    assert candidate.rules[:-1] == base.rules[:-1]


@BOTH
def test_remove_and_move_rule(base: Document) -> None:
    first, *rest = ids(base)
    assert ids(apply(base, [RemoveRule(first)])) == rest
    assert ids(apply(base, [MoveRule(first, len(rest))])) == [*rest, first]
    assert ids(apply(base, [MoveRule(rest[-1], 0)])) == [rest[-1], first, *rest[:-1]]
    assert apply(base, []) == base


def test_operations_apply_in_order_and_positions_count_after_earlier_ones() -> None:
    ops = parse_operations(
        [
            {"op": "remove_rule", "rule_id": "refer-public-record"},
            {"op": "add_rule", "position": 1, "rule": APPROVE_LOW_HOUSING},
            {"op": "move_rule", "rule_id": "decline-insurance-denied", "position": 4},
        ]
    )
    assert ids(apply(HMDA, ops)) == [
        "approve-low-housing",
        "refer-loan-exceeds-value",
        "approve-clean-credit",
        "approve-good-credit-low-debt",
        "decline-insurance-denied",
    ]


# --------------------------------------------------------------------------- the JSON form


def test_json_form_uses_the_documents_own_rule_format() -> None:
    rule = HMDA.rules[3]
    yaml_rule = {
        "id": "approve-clean-credit",
        "description": "No slow payments, at most one late mortgage payment, moderate debt.",
        "when": {
            "all": [
                {"input": "chist", "op": "eq", "value": 1},
                {"input": "mhist", "op": "le", "value": 2},
                {"input": "pirat", "op": "le", "value": 0.36},
                {"input": "lvrat", "op": "le", "value": 0.95},
            ]
        },
        "then": {"outcome": "approve", "reason": "Clean credit and moderate debt"},
    }
    assert AddRule(rule, 2).to_dict() == {"op": "add_rule", "position": 2, "rule": yaml_rule}
    assert UpdateRule(rule.id, rule).to_dict()["rule"] == yaml_rule
    assert RemoveRule("a").to_dict() == {"op": "remove_rule", "rule_id": "a"}
    assert MoveRule("a", 3).to_dict() == {"op": "move_rule", "rule_id": "a", "position": 3}
    assert AddRule.from_dict({"op": "add_rule", "position": 2, "rule": yaml_rule}) == AddRule(
        rule, 2
    )


def test_update_rule_may_omit_the_id_or_repeat_it() -> None:
    rule = {"when": None, "then": {"outcome": "refer"}}
    short = UpdateRule.from_dict({"op": "update_rule", "rule_id": "r1", "rule": rule})
    full = UpdateRule.from_dict(
        {"op": "update_rule", "rule_id": "r1", "rule": {**rule, "id": "r1"}}
    )
    assert short == full
    assert short.rule.id == "r1"
    assert short.rule.when is None


# --------------------------------------------------------------------------- reading errors

LEAF = {"input": "pirat", "op": "lt", "value": 1}
MALFORMED = [
    pytest.param({"op": "add_rule"}, [("RB910", "operations", None)], id="not-a-list"),
    pytest.param(["remove_rule"], [("RB910", "operations[0]", None)], id="not-a-mapping"),
    pytest.param([{"rule_id": "a"}], [("RB910", "operations[0].op", None)], id="no-op"),
    pytest.param(
        [{"op": "delete_rule", "rule_id": "a"}],
        [("RB910", "operations[0].op", "update_rule")],
        id="unknown-op",
    ),
    pytest.param(
        [{"op": "remove", "rule_id": "a"}],
        [("RB910", "operations[0].op", "remove_rule")],
        id="op-typo",
    ),
    pytest.param(
        [{"op": "move_rule", "rule_id": "a", "positon": 1}],
        [
            ("RB910", "operations[0].positon", "position"),
            ("RB910", "operations[0].position", None),
        ],
        id="unknown-field",
    ),
    pytest.param(
        [{"op": "remove_rule", "rule_id": "a", "position": 1}],
        [("RB910", "operations[0].position", None)],
        id="field-of-another-op",
    ),
    pytest.param([{"op": "remove_rule"}], [("RB910", "operations[0].rule_id", None)], id="missing"),
    pytest.param(
        [{"op": "remove_rule", "rule_id": 7}],
        [("RB910", "operations[0].rule_id", None)],
        id="id-type",
    ),
    pytest.param(
        [{"op": "move_rule", "rule_id": "a", "position": True}],
        [("RB910", "operations[0].position", None)],
        id="position-bool",
    ),
    pytest.param(
        [{"op": "move_rule", "rule_id": "a", "position": -1}],
        [("RB910", "operations[0].position", None)],
        id="position-negative",
    ),
    pytest.param(
        [
            {"op": "remove_rule", "rule_id": "a"},
            {
                "op": "add_rule",
                "position": 0,
                "rule": {
                    "id": "b",
                    "when": {"all": [LEAF, {"input": "x", "op": "eqq", "value": 1}]},
                },
            },
        ],
        [("RB002", "operations[1].rule.when.all[1].op", "eq")],
        id="rule-operator",
    ),
    pytest.param(
        [{"op": "add_rule", "position": 0, "rule": {"id": "b", "then": {}, "whn": LEAF}}],
        [("RB002", "operations[0].rule.whn", "when")],
        id="rule-field",
    ),
    pytest.param(
        [{"op": "add_rule", "position": 0, "rule": {"then": {"outcome": "refer"}}}],
        [("RB002", "operations[0].rule.id", None)],
        id="added-rule-without-id",
    ),
    pytest.param(
        [{"op": "add_rule", "position": 0, "rule": {"id": "no spaces", "then": {}}}],
        [("RB003", "operations[0].rule.id", None)],
        id="rule-id-syntax",
    ),
    pytest.param(
        [{"op": "add_rule", "position": 0, "rule": ["id", "b"]}],
        [("RB002", "operations[0].rule", None)],
        id="rule-not-a-mapping",
    ),
    pytest.param(
        [{"op": "update_rule", "rule_id": "a", "rule": {"id": "b", "then": {}}}],
        [("RB916", "operations[0].rule.id", "a")],
        id="update-renames",
    ),
]


@pytest.mark.parametrize(("data", "expected"), MALFORMED)
def test_malformed_operations_are_refused_with_their_location(
    data: object, expected: list[tuple[str, str, str | None]]
) -> None:
    with pytest.raises(OperationError) as exc:
        parse_operations(data)
    assert problems_of(exc) == expected
    assert all(location in str(exc.value) for _, location, _ in expected)


def test_every_malformed_operation_of_a_list_is_reported() -> None:
    data = [
        {"op": "remove_rule", "rule_id": "fine"},
        {"op": "move_rul", "rule_id": "a", "position": 0},
        {
            "op": "add_rule",
            "position": "first",
            "rule": {"id": "b", "when": {"input": "x", "op": "lt"}},
        },
    ]
    with pytest.raises(OperationError) as exc:
        parse_operations(data)
    assert problems_of(exc) == [
        ("RB910", "operations[1].op", "move_rule"),
        ("RB910", "operations[2].position", None),
        ("RB002", "operations[2].rule.when.value", None),
    ]


def test_too_many_operations_and_the_wrong_class() -> None:
    with pytest.raises(OperationError) as exc:
        parse_operations([{"op": "remove_rule", "rule_id": "a"}] * (MAX_OPERATIONS + 1))
    assert problems_of(exc) == [("RB910", "operations", None)]
    with pytest.raises(OperationError) as exc:
        MoveRule.from_dict({"op": "remove_rule", "rule_id": "a"}, "ops[0]")
    assert problems_of(exc) == [("RB910", "ops[0].op", None)]
    assert "expected op 'move_rule'" in exc.value.problems[0].message
    with pytest.raises(OperationError, match="keeps the rule's id"):
        UpdateRule("a", HMDA.rules[0])


# --------------------------------------------------------------------------- applying errors


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        (
            RemoveRule("refer-public-recrd"),
            ("RB911", "operations[0].rule_id", "refer-public-record"),
        ),
        (MoveRule("approve-clean", 0), ("RB911", "operations[0].rule_id", "approve-clean-credit")),
        (
            UpdateRule("approve-clean", Rule("approve-clean", None, ())),
            ("RB911", "operations[0].rule_id", "approve-clean-credit"),
        ),
        (AddRule(HMDA.rules[1], 0), ("RB912", "operations[0].rule.id", None)),
        (add(6), ("RB913", "operations[0].position", None)),
        (MoveRule("refer-public-record", 5), ("RB913", "operations[0].position", None)),
    ],
    ids=["remove", "move", "update", "duplicate", "add-position", "move-position"],
)
def test_an_operation_that_does_not_fit_the_rules_is_refused(
    op: Operation, expected: tuple[str, str, str | None]
) -> None:
    with pytest.raises(OperationError) as exc:
        apply(HMDA, [op])
    assert problems_of(exc) == [expected]
    assert str(exc.value).startswith(f"operations[0] ({op.op}) cannot be applied")


def test_a_rule_removed_earlier_is_unknown_later() -> None:
    ops: list[Operation] = [RemoveRule("refer-public-record"), MoveRule("refer-public-record", 0)]
    with pytest.raises(OperationError) as exc:
        apply(HMDA, ops)
    assert problems_of(exc) == [("RB911", "operations[1].rule_id", None)]
    assert "after the earlier operations" in exc.value.problems[0].message


def test_a_failing_list_leaves_no_partial_result() -> None:
    before = HMDA.canonical_json()
    ops: list[Operation] = [
        add(0),
        RemoveRule("refer-public-record"),
        MoveRule("refer-public-record", 0),
    ]
    with pytest.raises(OperationError) as exc:
        apply(HMDA, ops)
    assert [p.location for p in exc.value.problems] == ["operations[2].rule_id"]
    assert HMDA.canonical_json() == before
    assert apply(HMDA, ops[:2]).rules[0].id == "approve-low-housing"


def test_a_long_rule_list_is_abridged_and_the_rule_limit_holds() -> None:
    many = parse_document(
        {**HMDA.to_dict(), "rules": [{"id": f"r{i}", "then": {}} for i in range(MAX_RULES)]}
    )
    with pytest.raises(OperationError) as exc:
        apply(many, [RemoveRule("r")])
    assert exc.value.problems[0].message.endswith(f"r18, r19 and {MAX_RULES - 20} more")
    with pytest.raises(OperationError) as exc:
        apply(many, [AddRule(Rule("one-too-many", None, ()), 0)])
    assert problems_of(exc) == [("RB002", "candidate.rules", None)]


def test_the_operations_must_leave_a_rule() -> None:
    with pytest.raises(OperationError) as exc:
        apply(MORTGAGE, [RemoveRule(r.id) for r in MORTGAGE.rules])
    assert problems_of(exc) == [("RB914", "operations", None)]


@pytest.mark.parametrize("protected", ["afam", "single"])
def test_a_rule_on_a_protected_input_is_refused(protected: str) -> None:
    leaf = {"input": protected, "op": "eq", "value": False}
    rule = {
        **APPROVE_LOW_HOUSING,
        "when": {"all": [{"input": "hirat", "op": "lt", "value": 0.2}, leaf]},
    }
    update = {"when": {"not": leaf}, "then": {"outcome": "approve"}}
    ops: list[Operation] = [
        RemoveRule("refer-public-record"),
        add(0, rule),
        UpdateRule.from_dict(
            {"op": "update_rule", "rule_id": "approve-clean-credit", "rule": update}
        ),
    ]
    with pytest.raises(OperationError) as exc:
        apply(HMDA, ops)
    assert problems_of(exc) == [
        ("RB104", "operations[1].rule.when.all[1].input", None),
        ("RB104", "operations[2].rule.when.not.input", None),
    ]
    assert str(exc.value).startswith(
        "the candidate has static check errors from operations[1], operations[2]\n"
    )
    assert "is protected" in str(exc.value)


def test_check_errors_name_the_operation_or_the_candidate_rule() -> None:
    unknown = {
        "id": "x",
        "when": {"input": "pirate", "op": "lt", "value": 1},
        "then": {"outcom": "a"},
    }
    with pytest.raises(OperationError) as exc:
        apply(HMDA, [add(2, unknown)])
    assert problems_of(exc) == [
        ("RB101", "operations[0].rule.when.input", "pirat"),
        ("RB102", "operations[0].rule.then.outcom", "outcome"),
    ]
    unique = parse_document(
        {
            **HMDA.to_dict(),
            "hit_policy": "UNIQUE",
            "rules": [
                {"id": "low", "when": {"input": "pirat", "op": "lt", "value": 0.3}, "then": {}}
            ],
        }
    )
    overlap = {"id": "lower", "when": {"input": "pirat", "op": "lt", "value": 0.2}, "then": {}}
    with pytest.raises(OperationError) as exc:
        apply(unique, [add(1, overlap)])
    assert problems_of(exc) == [("RB201", "operations[0].rule", None)]
    with pytest.raises(OperationError) as exc:
        apply(unique, [add(0, overlap)])
    assert problems_of(exc) == [("RB201", "candidate.rules[1]", None)]


# --------------------------------------------------------------------------- diff and scope


def test_diff_names_the_fewest_moves() -> None:
    rules = HMDA.rules
    rotated = apply(HMDA, [MoveRule(rules[-1].id, 0)])
    assert diff_operations(HMDA, rotated) == [MoveRule(rules[-1].id, 0)]
    reversed_ = parse_document({**HMDA.to_dict(), "rules": [rule_to_dict(r) for r in rules[::-1]]})
    ops = diff_operations(HMDA, reversed_)
    assert len(ops) == len(rules) - 1
    assert all(isinstance(op, MoveRule) for op in ops)
    assert apply(HMDA, ops) == reversed_
    assert diff_operations(HMDA, HMDA) == []


def test_diff_refuses_a_candidate_that_changes_more_than_rules() -> None:
    other = parse_document({**HMDA.to_dict(), "hit_policy": "UNIQUE", "title": "changed"})
    with pytest.raises(OperationError) as exc:
        diff_operations(HMDA, other)
    assert problems_of(exc) == [("RB915", "hit_policy", None), ("RB915", "title", None)]


def test_scope_names_rules_inputs_and_outputs_touched() -> None:
    ops: list[Operation] = [
        add(0),  # hirat, mhist; outcome, reason
        UpdateRule(
            "refer-loan-exceeds-value",
            Rule("refer-loan-exceeds-value", None, (("outcome", "refer"),)),
        ),
        RemoveRule("decline-insurance-denied"),  # insurance
        MoveRule("refer-public-record", 3),  # phist
        AddRule(Rule("gone", None, ()), 0),
        RemoveRule("gone"),
    ]
    found = scope(HMDA, ops)
    assert found.added == ("approve-low-housing",)
    assert found.updated == ("refer-loan-exceeds-value",)
    assert found.removed == ("decline-insurance-denied",)
    assert found.moved == ("refer-public-record",)
    assert found.inputs == ("hirat", "lvrat", "mhist", "phist", "insurance")
    assert found.outputs == ("outcome", "reason")
    assert found.to_dict()["rules"] == [
        "approve-low-housing",
        "refer-loan-exceeds-value",
        "refer-public-record",
        "decline-insurance-denied",
    ]


# --------------------------------------------------------------------------- properties


def _leaf(spec: Input) -> st.SearchStrategy[dict[str, Any]]:
    def leaf(op: str, value: Any) -> dict[str, Any]:
        return {"input": spec.name, "op": op, "value": value}

    if spec.type == "boolean":
        return st.builds(leaf, st.sampled_from(["eq", "ne"]), st.booleans())
    low, high = spec.min if spec.min is not None else 0, spec.max if spec.max is not None else 100
    if spec.type == "integer":
        values: st.SearchStrategy[Any] = st.integers(int(low), int(high))
    else:
        values = st.floats(low, high).map(lambda x: round(x, 2))
    ordered = st.builds(leaf, st.sampled_from(["eq", "ne", "lt", "le", "gt", "ge"]), values)
    between = st.tuples(values, values).map(
        lambda pair: leaf("between", {"low": min(pair), "high": max(pair)})
    )
    return st.one_of(
        ordered, between, st.builds(leaf, st.just("in"), st.lists(values, min_size=1, max_size=3))
    )


def _conditions(doc: Document) -> st.SearchStrategy[dict[str, Any]]:
    specs = [i for i in doc.inputs if not i.protected and not i.pii]
    leaves = st.sampled_from(specs).flatmap(_leaf)
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=3).map(lambda c: {"all": c}),
            st.lists(inner, min_size=1, max_size=3).map(lambda c: {"any": c}),
            inner.map(lambda c: {"not": c}),
        ),
        max_leaves=4,
    )


def _rule(doc: Document, rule_id: str) -> st.SearchStrategy[dict[str, Any]]:
    outcomes = doc.outputs[0].values or ("refer",)
    then = st.fixed_dictionaries(
        {"outcome": st.sampled_from(outcomes)}, optional={"reason": st.sampled_from(["a", "b"])}
    )
    return st.fixed_dictionaries(
        {"id": st.just(rule_id), "then": then},
        optional={"when": _conditions(doc), "description": st.just("generated")},
    )


def _operations(data: st.DataObject, doc: Document) -> list[Operation]:
    """A valid operation list for ``doc``, drawn as JSON and read back like untrusted input."""
    current, removed, ops = ids(doc), list[str](), list[dict[str, Any]]()
    for n in range(data.draw(st.integers(0, 6), label="count")):
        kinds = ["add", "update", "move"] + (["remove"] if len(current) > 1 else [])
        kind = data.draw(st.sampled_from(kinds))
        if kind == "add":  # a new id, or one removed earlier
            rule_id = data.draw(st.sampled_from([*removed, f"new-{n}"]))
            position = data.draw(st.integers(0, len(current)))
            ops.append(
                {"op": "add_rule", "position": position, "rule": data.draw(_rule(doc, rule_id))}
            )
            current.insert(position, rule_id)
            removed = [r for r in removed if r != rule_id]
            continue
        rule_id = data.draw(st.sampled_from(current))
        if kind == "update":
            ops.append(
                {"op": "update_rule", "rule_id": rule_id, "rule": data.draw(_rule(doc, rule_id))}
            )
            continue
        current.remove(rule_id)
        if kind == "remove":
            ops.append({"op": "remove_rule", "rule_id": rule_id})
            removed.append(rule_id)
        else:
            position = data.draw(st.integers(0, len(current)))
            ops.append({"op": "move_rule", "rule_id": rule_id, "position": position})
            current.insert(position, rule_id)
    return list(parse_operations(json.loads(json.dumps(ops))))


@settings(max_examples=80, deadline=None)
@given(st.data(), st.sampled_from([MORTGAGE, HMDA]))
def test_diff_inverts_apply_and_operations_round_trip(data: st.DataObject, base: Document) -> None:
    ops = _operations(data, base)
    candidate = apply(base, ops)
    diff = diff_operations(base, candidate)
    assert apply(base, diff) == candidate
    assert len(diff) <= len(ops)
    for op in [*ops, *diff]:
        assert parse_operation(json.loads(json.dumps(op.to_dict()))) == op
        assert type(op).from_dict(op.to_dict()) == op
