"""Issue 12, item 14: DMN conformance of PRIORITY / OUTPUT ORDER ranking, and DOCTYPEs.

Multi-output PRIORITY and OUTPUT ORDER tables where some output declares no ``values`` rank by
the outputs that do (output by output, in column order; ties in rule order), as DMN 1.5 and
its TCK (0110, 0118) define (DESIGN §2): the engine, ``validate``/``check`` and DMN import
agree. Any DOCTYPE in a DMN model or TCK file is refused with a clear error, as the message
has always said, and no entity is expanded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rules.core.check import check_document
from rules.core.dmn import import_dmn, verify
from rules.core.document import Document, parse_document
from rules.core.engine import evaluate
from rules.core.validate import validate_document
from rules.errors import DmnError

DATA = Path(__file__).resolve().parents[2] / "data"
TCK = DATA / "tck" / "dmn"


def _ranked(policy: str, outputs: list[dict[str, Any]]) -> Document:
    """Three rules that all match; ``grade`` is x/y, ``note`` is free text."""
    return parse_document(
        {
            "name": "ranked",
            "inputs": [{"name": "n", "type": "number"}],
            "outputs": outputs,
            "hit_policy": policy,
            "rules": [
                {
                    "id": "r1",
                    "when": {"input": "n", "op": "ge", "value": 0},
                    "then": {"grade": "y", "note": "first"},
                },
                {
                    "id": "r2",
                    "when": {"input": "n", "op": "ge", "value": 0},
                    "then": {"grade": "x", "note": "second"},
                },
                {
                    "id": "r3",
                    "when": {"input": "n", "op": "ge", "value": 0},
                    "then": {"grade": "x", "note": "third"},
                },
            ],
        }
    )


GRADE = {"name": "grade", "type": "string", "values": ["x", "y"]}
NOTE = {"name": "note", "type": "string"}


@pytest.mark.parametrize(
    "columns", [[GRADE, NOTE], [NOTE, GRADE]], ids=["values-first", "values-last"]
)
def test_priority_ranks_by_the_outputs_that_declare_values(columns: list[dict[str, Any]]) -> None:
    doc = _ranked("PRIORITY", columns)
    assert [p for p in validate_document(doc) if p.severity == "error"] == []
    assert [p.code for p in check_document(doc) if p.severity == "error"] == []
    result = evaluate(doc, {"n": 1})
    # grade x outranks y; r2 and r3 tie on it (note has no values), so rule order decides.
    assert result.outputs == {"grade": "x", "note": "second"}
    assert result.rule_ids == ("r2",)
    assert result.error is None


def test_output_order_sorts_by_the_outputs_that_declare_values() -> None:
    doc = _ranked("OUTPUT ORDER", [GRADE, NOTE])
    assert [p for p in check_document(doc) if p.severity == "error"] == []
    result = evaluate(doc, {"n": 1})
    assert result.rule_ids == ("r2", "r3", "r1")
    assert result.outputs == [
        {"grade": "x", "note": "second"},
        {"grade": "x", "note": "third"},
        {"grade": "y", "note": "first"},
    ]


def test_ranking_goes_output_by_output_in_column_order() -> None:
    level = {"name": "level", "type": "string", "values": ["hi", "lo"]}
    doc = parse_document(
        {
            "name": "ranked",
            "inputs": [{"name": "n", "type": "number"}],
            "outputs": [GRADE, NOTE, level],
            "hit_policy": "OUTPUT ORDER",
            "rules": [
                {"id": "a", "then": {"grade": "y", "note": "1", "level": "hi"}},
                {"id": "b", "then": {"grade": "x", "note": "2", "level": "lo"}},
                {"id": "c", "then": {"grade": "x", "note": "3", "level": "hi"}},
            ],
        }
    )
    assert evaluate(doc, {"n": 1}).rule_ids == ("c", "b", "a")


@pytest.mark.parametrize("policy", ["PRIORITY", "OUTPUT ORDER"])
def test_a_table_where_no_output_declares_values_is_still_refused(policy: str) -> None:
    doc = _ranked(policy, [{**GRADE, "values": None}, NOTE])
    (problem,) = [p for p in validate_document(doc) if p.code == "RB109"]
    assert problem.location == "outputs[0].values"
    assert "none of 'grade', 'note' does" in problem.message
    assert "declare the values of at least one" in problem.message


def test_dmn_import_and_check_accept_the_tck_priority_table() -> None:
    model = (
        TCK / "0118-multi-priority-hitpolicy" / "0118-multi-priority-hitpolicy.dmn"
    ).read_bytes()
    doc = import_dmn(model)
    assert [o.values for o in doc.outputs] == [("Approved", "Declined"), None]
    assert [p.code for p in check_document(doc) if p.severity == "error"] == []
    # Rules 2 (Declined, Standard) and 3 (Approved, Standard) both match: Approved ranks first.
    facts = dict(zip([i.name for i in doc.inputs], (17, "High", True), strict=True))
    result = evaluate(doc, facts)
    names = [o.name for o in doc.outputs]
    assert result.outputs == dict(zip(names, ("Approved", "Standard"), strict=True))
    assert len(result.matched) == 2


# --------------------------------------------------------------------------- DOCTYPE

MODEL = (TCK / "0004-simpletable-U" / "0004-simpletable-U.dmn").read_bytes()
TESTS = (TCK / "0004-simpletable-U" / "0004-simpletable-U-test-01.xml").read_bytes()


def _with_doctype(source: bytes, doctype: bytes) -> bytes:
    head, sep, rest = source.partition(b"?>")
    return head + sep + b"\n" + doctype + rest


@pytest.mark.parametrize(
    "doctype",
    [
        b"<!DOCTYPE definitions>",
        b'<!DOCTYPE definitions SYSTEM "http://127.0.0.1:9/never-fetched.dtd">',
        b"<!DOCTYPE definitions [<!ELEMENT definitions ANY>]>",
    ],
    ids=["bare", "external", "internal-subset"],
)
def test_any_doctype_in_a_dmn_model_is_refused_clearly(doctype: bytes) -> None:
    assert import_dmn(MODEL).rules  # the model itself imports
    with pytest.raises(DmnError, match="refused for safety") as caught:
        import_dmn(_with_doctype(MODEL, doctype))
    (problem,) = caught.value.problems
    assert problem.code == "RB601"
    assert "<!DOCTYPE definitions>" in problem.message
    assert "DTDs and entities are not accepted" in problem.message
    assert "remove the DOCTYPE" in problem.message


def test_a_doctype_in_a_tck_test_file_is_refused() -> None:
    assert verify(MODEL, TESTS).passed
    with pytest.raises(DmnError, match="TCK test file uses XML features that are refused"):
        verify(MODEL, _with_doctype(TESTS, b"<!DOCTYPE testCases>"))
