"""Facts validation: the per-document fast path agrees exactly with validate_facts."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.core.document import parse_document
from rules.core.facts import FactsValidator, validate_facts
from rules.errors import FactsError
from tests.rules.core.strategies import document_data, facts_for

ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 1.0, -0.0, 2**53, 2**53 + 1, 2.5, "", "a", "x" * 10_001]),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
)


def _outcome(fn: Any, facts: Any) -> Any:
    try:
        value = fn(facts)
    except FactsError as exc:
        return ("error", [p.as_dict() for p in exc.problems])
    return ("ok", [(k, type(v).__name__, v) for k, v in value.items()])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_path_agrees_with_validate_facts(data: st.DataObject) -> None:
    doc = parse_document(data.draw(document_data()))
    validator = FactsValidator(doc)
    facts = dict(data.draw(facts_for(doc)))
    names = [spec.name for spec in doc.inputs] + ["unknown", "sid"]
    for name in data.draw(st.lists(st.sampled_from(names), max_size=3)):
        facts[name] = data.draw(ODD_VALUES)
    for name in data.draw(st.lists(st.sampled_from(names), max_size=2)):
        facts.pop(name, None)
    assert _outcome(validator, facts) == _outcome(lambda f: validate_facts(doc, f), facts)


def test_empty_allowed_values_reject_everything_on_both_paths() -> None:
    doc = parse_document(
        {
            "name": "t",
            "inputs": [{"name": "x", "type": "integer", "values": []}],
            "outputs": [{"name": "o", "type": "string", "default": "d"}],
            "rules": [],
        }
    )
    for check in (FactsValidator(doc), lambda f: validate_facts(doc, f)):
        try:
            check({"x": 1})
        except FactsError as exc:
            assert exc.problems[0].code == "RB403"
        else:
            raise AssertionError("a value outside an empty 'values' list was accepted")


def test_non_objects_fall_back_to_the_full_messages() -> None:
    doc = parse_document(
        {
            "name": "t",
            "inputs": [{"name": "x", "type": "number"}],
            "outputs": [{"name": "o", "type": "string", "default": "d"}],
            "rules": [],
        }
    )
    assert _outcome(FactsValidator(doc), [1]) == _outcome(lambda f: validate_facts(doc, f), [1])


EDGE_VALUES = [
    None,
    True,
    False,
    0,
    1,
    -1,
    1.0,
    0.5,
    -0.0,
    2**53,
    2**53 + 1,
    -(2**53) - 1,
    2**63,
    float("nan"),
    float("inf"),
    1e308,
    "",
    "a",
    "1",
    "x" * 10_000,
    "x" * 10_001,
    [1],
    {},
]
SPECS = [
    {"type": "number"},
    {"type": "number", "min": 0, "max": 1},
    {"type": "number", "values": [0, 1]},
    {"type": "integer"},
    {"type": "integer", "min": -1, "max": 1},
    {"type": "integer", "values": [1]},
    {"type": "string"},
    {"type": "string", "values": ["a", "1"]},
    {"type": "boolean"},
    {"type": "boolean", "values": [True]},
]


def test_fast_path_agrees_on_every_edge_value_of_every_input_kind() -> None:
    for spec in SPECS:
        for required in (True, False):
            doc = parse_document(
                {
                    "name": "t",
                    "inputs": [{"name": "x", "required": required, **spec}],
                    "outputs": [{"name": "o", "type": "string", "default": "d"}],
                    "rules": [],
                }
            )
            for facts in [{}, *({"x": v} for v in EDGE_VALUES)]:
                fast = _outcome(FactsValidator(doc), facts)
                slow = _outcome(lambda f, d=doc: validate_facts(d, f), facts)
                assert fast == slow, (spec, required, facts)
