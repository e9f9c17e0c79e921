"""Request bodies are judged by the OpenAPI schemas themselves: the fast check (jsonschema-rs)
and the reference (jsonschema, which names the errors) agree on every body, and every refusal
names at least one field with an RB code."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.api.validation import schema_problems, validator

NAMES = ("DecisionRequest", "BatchRequest", "ResolutionRequest")
KEYS = st.sampled_from(["facts", "version", "request_id", "items", "outputs", "note", "pirat", "x"])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.sampled_from([0, 1, 1.0, 2.0, 1.5, 2**31 - 1, 2**31, -1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
    st.sampled_from(["", "a" * 201]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=8,
)
BODIES = st.dictionaries(KEYS, VALUES, max_size=4)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(body=BODIES, name=st.sampled_from(NAMES))
def test_the_fast_check_agrees_with_the_reference(body: dict[str, Any], name: str) -> None:
    problems = schema_problems(body, name)
    assert (not problems) is validator(name).is_valid(body)
    for problem in problems:
        assert problem.code in {"RB431", "RB432", "RB433"}
        assert problem.message


def test_an_integral_number_is_an_integer_for_both() -> None:
    body = {"facts": {}, "version": 1.0}
    assert schema_problems(body, "DecisionRequest") == []
    refused = schema_problems({"facts": {}, "version": 1.5}, "DecisionRequest")
    assert [(p.code, p.location) for p in refused] == [("RB433", "version")]
