"""The document's canonical form is RFC 8785 (JCS): what a store writes, it reads back as the
same version (DESIGN §2). The vectors themselves are checked in
``tests/rules/audit/test_chain_format.py``."""

from __future__ import annotations

import json

import pytest

from rules.core.document import parse_document
from rules.errors import DocumentError


def _doc(value: float, bound: float) -> dict[str, object]:
    return {
        "name": "big",
        "inputs": [{"name": "n", "type": "number", "max": bound}],
        "outputs": [{"name": "o", "type": "number"}],
        "hit_policy": "FIRST",
        "rules": [
            {"id": "a", "when": {"input": "n", "op": "le", "value": value}, "then": {"o": value}}
        ],
    }


@pytest.mark.parametrize("value", [1e16, 2.0**53 + 2, 1e20, 1e21, 1e300, 1e-7, 0.1, -0.0])
def test_a_document_reloaded_from_its_canonical_form_is_the_same_version(value: float) -> None:
    doc = parse_document(_doc(value, 1e300))
    text = doc.canonical_json()
    twin = parse_document(json.loads(text))
    assert twin == doc
    assert twin.hash == doc.hash
    assert twin.canonical_json() == text


def test_jcs_writes_1e16_as_digits_and_they_read_back_as_that_double() -> None:
    doc = parse_document(_doc(1e16, 1e17))
    assert b'"value":10000000000000000' in doc.canonical_json()
    assert b'"max":100000000000000000' in doc.canonical_json()


def test_an_integer_no_double_holds_is_still_refused() -> None:
    with pytest.raises(DocumentError, match="integers must lie within"):
        parse_document(_doc(2**53 + 1, 1e300))
