"""Running DMN TCK test files: each case through import and the engine, compared with care.

A test file (``testCases/testCase/inputNode``, ``resultNode/expected``) names inputs and
decisions as the model does; :class:`~rules.core.dmn.reader.DmnImport` maps them onto the imported
document. A single-output table's result is its value, a multi-output one a component map,
RULE ORDER / OUTPUT ORDER / COLLECT give lists (COLLECT in any order). Numbers compare as
decimals: the engine computes in binary doubles, so a double whose shortest form differs from
the expected decimal only past 15 significant digits (``0.1 + 0.2``) still counts as equal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from rules.core.dmn.feel import parse_number
from rules.core.dmn.reader import DmnImport, read_definitions
from rules.core.dmn.source import child, children, local, parse_xml, xsi
from rules.core.engine import evaluate
from rules.core.engine.hit_policies import Result
from rules.errors import DmnError, FactsError, Problem

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

__all__ = ["CaseResult", "Unsupported", "VerifyReport", "verify"]

_NUMERIC = ("decimal", "integer", "int", "long", "short", "double", "float")
_DIGITS = Context(prec=15)


@dataclass(frozen=True, slots=True)
class Unsupported:
    """A TCK value of a type the engine has no counterpart for (a date, say)."""

    xsd_type: str


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One test case's result node, compared."""

    id: str
    decision: str
    passed: bool
    expected: Any
    actual: Any
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "decision": self.decision,
            "passed": self.passed,
            "expected": _plain(self.expected),
            "actual": _plain(self.actual),
            "message": self.message,
        }

    def __str__(self) -> str:
        head = f"{'PASS' if self.passed else 'FAIL'} {self.id} {self.decision}"
        if self.passed:
            text = f"{head} = {_show(self.actual)}"
        else:
            text = f"{head}: expected {_show(self.expected)}, got {_show(self.actual)}"
        return f"{text} ({self.message})" if self.message else text


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Every case of a TCK test file run against a DMN model."""

    model: str
    cases: tuple[CaseResult, ...]

    @property
    def failed(self) -> tuple[CaseResult, ...]:
        return tuple(c for c in self.cases if not c.passed)

    @property
    def passed(self) -> bool:
        return bool(self.cases) and not self.failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "passed": self.passed,
            "total": len(self.cases),
            "failed": len(self.failed),
            "cases": [c.to_dict() for c in self.cases],
        }

    def __str__(self) -> str:
        lines = [f"DMN TCK verify: {self.model}"]
        lines += [f"  {case}" for case in self.cases]
        lines.append(
            f"{len(self.cases)} cases: {len(self.cases) - len(self.failed)} passed, "
            f"{len(self.failed)} failed"
        )
        return "\n".join(lines)


# --------------------------------------------------------------------------- values


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return int(value)
        double = float(value)
        return double if Decimal(repr(double)) == value else str(value)
    if isinstance(value, Unsupported):
        return f"<unsupported xsd:{value.xsd_type}>"
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _show(value: Any) -> str:
    return json.dumps(_plain(value), ensure_ascii=False)


def _scalar(element: Element) -> Any:
    if xsi(element, "nil") in ("true", "1"):
        return None
    kind = (xsi(element, "type") or "string").rsplit(":", 1)[-1]
    text = element.text or ""
    if kind in _NUMERIC:
        try:
            return Decimal(text.strip())
        except InvalidOperation as exc:
            raise DmnError(f"{text!r} is not an xsd:{kind}") from exc
    if kind == "boolean":
        if text.strip() not in ("true", "false", "1", "0"):
            raise DmnError(f"{text!r} is not an xsd:boolean")
        return text.strip() in ("true", "1")
    if kind in ("string", "anySimpleType"):
        return text
    return Unsupported(kind)


def _value(element: Element) -> Any:
    """A TCK valueType: a value, a component map, or a list of items."""
    if xsi(element, "nil") in ("true", "1"):
        return None
    value = child(element, "value")
    if value is not None:
        return _scalar(value)
    items = child(element, "list")
    if items is not None:
        return None if xsi(items, "nil") == "true" else [_value(i) for i in children(items, "item")]
    components = children(element, "component")
    if components:
        return {c.get("name", ""): _value(c) for c in components}
    return None


def _same(expected: Any, actual: Any, unordered: bool, exact: bool) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, Decimal):
        return (
            isinstance(actual, int | float)
            and not isinstance(actual, bool)
            and _same_number(expected, actual, exact)
        )
    if isinstance(expected, bool | str):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and actual.keys() == expected.keys()
            and all(_same(expected[k], actual[k], unordered, exact) for k in expected)
        )
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return False
        if not unordered:
            return all(_same(e, a, False, exact) for e, a in zip(expected, actual, strict=True))
        left = list(actual)
        for item in expected:
            match = next((i for i, a in enumerate(left) if _same(item, a, False, exact)), None)
            if match is None:
                return False
            left.pop(match)
        return True
    return False


def _same_number(expected: Decimal, actual: int | float, exact: bool) -> bool:
    if isinstance(actual, int):
        return expected == actual
    shortest = Decimal(repr(actual))
    return shortest == expected or (not exact and _DIGITS.plus(shortest) == _DIGITS.plus(expected))


# --------------------------------------------------------------------------- running


def _result_value(imported: DmnImport, result: Result) -> Any:
    outputs = result.outputs
    if outputs is None:
        return None
    doc = imported.document

    def row_value(row: Mapping[str, Any]) -> Any:
        if len(doc.outputs) == 1:
            return row.get(doc.outputs[0].name)
        return {imported.outputs[o.name]: row.get(o.name) for o in doc.outputs}

    if isinstance(outputs, list):
        return [row_value(row) for row in outputs]
    return row_value(outputs)


def _facts(imported: DmnImport, inputs: Mapping[str, Any]) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for name, value in inputs.items():
        key = imported.inputs.get(" ".join(name.split()))
        if key is None:
            continue  # an input the decision does not read
        if isinstance(value, Decimal):
            value = parse_number(str(value))
        elif isinstance(value, dict | list | Unsupported):
            raise DmnError(f"input {name!r} has a structured or unsupported value")
        facts[key] = value
    return facts


class _Runner:
    """Imports each decision a test file names once, and runs the cases."""

    def __init__(self, root: Element) -> None:
        self.root = root
        self.imported: dict[str, DmnImport | DmnError] = {}

    def decision(self, name: str) -> DmnImport:
        found = self.imported.get(name)
        if found is None:
            try:
                found = read_definitions(self.root, name)
            except DmnError as exc:
                found = exc
            self.imported[name] = found
        if isinstance(found, DmnError):
            raise found
        return found

    def case(self, case_id: str, inputs: dict[str, Any], node: Element) -> CaseResult:
        name = node.get("name", "")
        error_expected = node.get("errorResult") in ("true", "1")
        expected_element = child(node, "expected")
        expected: Any = None
        try:
            if expected_element is not None:
                expected = _value(expected_element)
            imported = self.decision(name)
            result = evaluate(imported.document, _facts(imported, inputs))
        except FactsError as exc:
            ok = error_expected or (expected_element is not None and expected is None)
            message = "facts rejected, as DMN answers null: " + "; ".join(map(str, exc.problems))
            return CaseResult(case_id, name, ok, expected, None, message)
        except DmnError as exc:
            return CaseResult(case_id, name, False, expected, None, str(exc))
        actual = _result_value(imported, result)
        if error_expected:
            return CaseResult(
                case_id, name, result.error is not None, "error", actual, result.error or ""
            )
        if expected_element is None:
            return CaseResult(case_id, name, True, None, actual, "no expected value given")
        unordered = imported.document.hit_policy == "COLLECT"
        message = result.error or ""
        if _same(expected, actual, unordered, exact=True):
            return CaseResult(case_id, name, True, expected, actual, message)
        passed = _same(expected, actual, unordered, exact=False)
        if passed:
            message = "equal to 15 significant digits (the engine computes in doubles)"
        return CaseResult(case_id, name, passed, expected, actual, message)


def verify(model: bytes | str, tests: bytes | str) -> VerifyReport:
    """Run every case of a DMN TCK test file against the model; see :class:`VerifyReport`."""
    definitions = parse_xml(model, "DMN model")
    root = parse_xml(tests, "TCK test file")
    if local(root.tag) != "testCases":
        raise DmnError(
            "not a DMN TCK test file",
            [Problem("RB607", local(root.tag), "the root element must be <testCases>")],
        )
    runner = _Runner(definitions)
    results: list[CaseResult] = []
    for number, case in enumerate(children(root, "testCase"), 1):
        case_id = case.get("id") or str(number)
        nodes = children(case, "resultNode")
        if case.get("type", "decision") != "decision":
            results.append(CaseResult(case_id, "", False, None, None, "only decision cases run"))
            continue
        try:
            inputs = {n.get("name", ""): _value(n) for n in children(case, "inputNode")}
        except DmnError as exc:
            results.append(CaseResult(case_id, "", False, None, None, str(exc)))
            continue
        results.extend(runner.case(case_id, inputs, node) for node in nodes)
    if not results:
        raise DmnError(
            "the TCK test file has no test cases",
            [Problem("RB607", "testCases", "add <testCase> elements with <resultNode>s")],
        )
    model_name = child(root, "modelName")
    name = definitions.get("name") or (model_name.text if model_name is not None else None)
    return VerifyReport(model=(name or "model").strip(), cases=tuple(results))
