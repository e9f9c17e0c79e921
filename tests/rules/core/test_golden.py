"""Golden fixtures: documents with fact sets and hand-worked expected results (DESIGN §2).

Each file in ``tests/data/golden`` holds a ``document`` and ``cases`` of ``{name, facts,
expected}``; ``expected`` gives the whole result. ``error`` is null or a word the error message
must contain (the hit policy). Every case runs through the engine (with fact validation, as
the service calls it) and through the reference evaluator.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from rules.core.document import Document, parse_document
from rules.core.engine import evaluate
from rules.core.engine.hit_policies import Result
from rules.core.facts import validate_facts
from rules.core.validate import validate_document
from tests.rules.core.reference import comparable, reference_evaluate

GOLDEN = Path(__file__).resolve().parents[2] / "data" / "golden"
FILES = sorted(GOLDEN.glob("*.yaml"))


def _load(path: Path) -> tuple[Document, list[dict[str, Any]]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return parse_document(data["document"]), data["cases"]


def _cases() -> list[Any]:
    params = []
    for path in FILES:
        _, cases = _load(path)
        for case in cases:
            params.append(pytest.param(path, case, id=f"{path.stem}: {case['name']}"))
    return params


def _reference(doc: Document, facts: dict[str, Any]) -> Result:
    return reference_evaluate(doc, validate_facts(doc, facts))


EVALUATORS: dict[str, Callable[[Document, dict[str, Any]], Result]] = {
    "engine": evaluate,
    "reference": _reference,
}


def test_fixtures_cover_every_hit_policy_and_aggregation() -> None:
    docs = [_load(path)[0] for path in FILES]
    assert {d.hit_policy for d in docs} == {
        "UNIQUE",
        "ANY",
        "PRIORITY",
        "FIRST",
        "RULE ORDER",
        "OUTPUT ORDER",
        "COLLECT",
    }
    assert {d.aggregation for d in docs} == {None, "SUM", "COUNT", "MIN", "MAX"}


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_fixture_documents_are_valid(path: Path) -> None:
    doc, _ = _load(path)
    assert [p for p in validate_document(doc) if p.severity == "error"] == []


@pytest.mark.parametrize("evaluator", EVALUATORS)
@pytest.mark.parametrize(("path", "case"), _cases())
def test_golden(path: Path, case: dict[str, Any], evaluator: str) -> None:
    doc, _ = _load(path)
    result = EVALUATORS[evaluator](doc, case["facts"])
    expected = case["expected"]
    assert comparable(result.outputs) == comparable(expected["outputs"]), result
    assert list(result.rule_ids) == expected["rule_ids"], result
    assert list(result.matched) == expected["matched"], result
    assert result.exception is expected["exception"], result
    assert result.reasons == expected["reasons"], result
    if expected["error"] is None:
        assert result.error is None, result
    else:
        assert result.error is not None, result
        if evaluator == "engine":
            assert expected["error"] in result.error, result
