"""Equality routing in front of the engine: routed documents decide exactly as the reference."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.core.document import parse_document
from rules.core.engine import compile_document
from rules.core.engine.equality_index import MIN_ROUTED_RULES
from rules.core.facts import validate_facts
from tests.rules.core.reference import reference_evaluate

CATS = ["a", "b", "c", "d", "e", "f"]


@st.composite
def routed_case(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    n = draw(st.integers(min_value=MIN_ROUTED_RULES, max_value=MIN_ROUTED_RULES + 40))
    rules = []
    for r in range(n):
        parts: list[dict[str, Any]] = []
        kind = draw(st.sampled_from(["eq", "in", "eq", "none", "any", "not"]))
        if kind == "eq":
            parts.append({"input": "cat", "op": "eq", "value": draw(st.sampled_from(CATS))})
        elif kind == "in":
            values = draw(st.lists(st.sampled_from(CATS), max_size=3, unique=True))
            parts.append({"input": "cat", "op": "in", "value": values})
        elif kind == "any":
            parts.append(
                {
                    "any": [
                        {"input": "cat", "op": "eq", "value": "a"},
                        {"input": "x", "op": "gt", "value": 5},
                    ]
                }
            )
        elif kind == "not":
            parts.append(
                {"not": {"input": "cat", "op": "eq", "value": draw(st.sampled_from(CATS))}}
            )
        if draw(st.booleans()):
            parts.append(
                {
                    "input": "x",
                    "op": draw(st.sampled_from(["lt", "ge"])),
                    "value": draw(st.integers(0, 10)),
                }
            )
        if draw(st.booleans()):
            parts.append({"input": "cat", "op": "eq", "value": draw(st.sampled_from(CATS))})
        rules.append({"id": f"r{r}", "when": {"all": parts}, "then": {"o": r}})
    doc = {
        "name": "routed",
        "inputs": [
            {"name": "cat", "type": "string", "required": False},
            {"name": "x", "type": "integer", "required": False},
        ],
        "outputs": [{"name": "o", "type": "integer"}],
        "hit_policy": draw(st.sampled_from(["RULE ORDER", "FIRST", "COLLECT"])),
        "rules": rules,
    }
    facts = draw(
        st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "cat": st.one_of(st.none(), st.sampled_from([*CATS, "zz", ""])),
                    "x": st.one_of(st.none(), st.integers(0, 10)),
                },
            ),
            min_size=5,
            max_size=15,
        )
    )
    return doc, facts


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=routed_case())
def test_routed_documents_agree_with_the_reference(
    case: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    data, all_facts = case
    doc = parse_document(data)
    compiled = compile_document(doc)
    if compiled.program.route_input is not None:
        assert compiled.program.route_input == "cat"
    for facts in all_facts:
        clean = validate_facts(doc, facts)
        assert compiled.evaluate(clean) == reference_evaluate(doc, clean), facts


def test_routing_is_used_for_an_equality_table_and_skips_other_groups() -> None:
    rules = [
        {
            "id": f"r{i}",
            "when": {"input": "cat", "op": "eq", "value": CATS[i % 6]},
            "then": {"o": i},
        }
        for i in range(60)
    ]
    rules.append({"id": "free", "when": {"input": "x", "op": "ge", "value": 0}, "then": {"o": -1}})
    doc = parse_document(
        {
            "name": "t",
            "inputs": [{"name": "cat", "type": "string"}, {"name": "x", "type": "integer"}],
            "outputs": [{"name": "o", "type": "integer"}],
            "hit_policy": "RULE ORDER",
            "rules": rules,
        }
    )
    program = compile_document(doc).program
    assert program.route_input == "cat"
    assert len(program.shards_for({"cat": "a", "x": 1})) < len(program.shards)
    result = compile_document(doc).evaluate({"cat": "b", "x": 3})
    assert result.matched == (*(f"r{i}" for i in range(1, 60, 6)), "free")
