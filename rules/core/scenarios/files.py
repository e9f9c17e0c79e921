"""Scenarios read from files: YAML (or JSON), CSV, or a DMN TCK test file.

- YAML/JSON: a list of ``{id, facts, expect, note}``, or ``{scenarios: [...]}``.
- CSV: a header with ``id`` (optional: rows are numbered), ``note`` (optional), one column
  per input by its name and one per expected output as ``expect.<output>``; an empty cell
  leaves the input out (or expects nothing of the output); cells are typed by the ruleset.
- DMN TCK (``<testCases>``): each test case's ``inputNode``s become facts and each
  ``resultNode``'s expected value the expectation; DMN names are matched to the ruleset's
  inputs and outputs ignoring case, spaces and punctuation (as ``rulebook dmn import`` names
  them). A structured value the ruleset cannot hold is a problem naming the test case.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import yaml

from rules.core.dmn.source import child, children, local, parse_xml
from rules.core.dmn.tck import Unsupported, _plain, _value
from rules.core.document import Document
from rules.core.scenarios.check import ScenarioData
from rules.errors import DmnError, InvalidRequestError, Problem

__all__ = ["read_scenarios"]

_TRUE = {"true", "yes", "1", "y", "t"}
_FALSE = {"false", "no", "0", "n", "f"}


def _fail(where: str, message: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"the scenarios file cannot be read: {message}", [Problem("RB455", where, message)]
    )


def read_scenarios(text: str, filename: str, doc: Document) -> list[ScenarioData]:
    """The scenarios in ``text`` (its kind from ``filename``'s extension), typed for ``doc``;
    not yet checked (:func:`rules.core.scenarios.check_scenario` does that)."""
    lower = filename.lower()
    if lower.endswith(".csv"):
        return _from_csv(text, doc)
    if lower.endswith(".xml"):
        return _from_tck(text, doc)
    if lower.endswith((".yaml", ".yml", ".json")):
        return _from_yaml(text)
    raise _fail("file", f"{filename}: give a .csv, .yaml, .yml, .json or DMN TCK .xml file")


def _from_yaml(text: str) -> list[ScenarioData]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _fail("file", f"not valid YAML: {exc}") from exc
    if isinstance(data, Mapping) and "scenarios" in data:
        data = data["scenarios"]
    if not isinstance(data, list):
        raise _fail("file", "expected a list of {id, facts, expect, note}")
    found: list[ScenarioData] = []
    for i, item in enumerate(data):
        if not isinstance(item, Mapping):
            raise _fail(f"scenarios[{i}]", "expected an object {id, facts, expect, note}")
        unknown = set(item) - {"id", "facts", "expect", "note"}
        if unknown:
            raise _fail(f"scenarios[{i}]", f"unknown field(s) {', '.join(sorted(unknown))}")
        facts, expect = item.get("facts", {}), item.get("expect", {})
        if not isinstance(facts, Mapping) or not isinstance(expect, Mapping):
            raise _fail(f"scenarios[{i}]", "facts and expect must be objects")
        found.append(
            ScenarioData(
                str(item.get("id") or f"s{i + 1}"), dict(facts), dict(expect), item.get("note")
            )
        )
    return found


def _cell(kind: str, text: str, where: str) -> Any:
    value = text.strip()
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            number = float(value)
            return int(number) if number.is_integer() and "." not in value else number
    except ValueError as exc:
        raise _fail(where, f"{value!r} is not a {kind}") from exc
    if kind == "boolean":
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise _fail(where, f"{value!r} is not a boolean (true or false)")
    return value


def _from_csv(text: str, doc: Document) -> list[ScenarioData]:
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    inputs = {i.name: i.type for i in doc.inputs}
    outputs = {o.name: o.type for o in doc.outputs}
    for column in header:
        name = column.removeprefix("expect.")
        known = outputs if column.startswith("expect.") else inputs
        if column not in ("id", "note") and name not in known:
            raise _fail(
                f"header.{column}",
                f"unknown column {column!r}: use id, note, an input "
                f"({', '.join(inputs)}) or expect.<output> ({', '.join(outputs)})",
            )
    found: list[ScenarioData] = []
    for number, row in enumerate(reader, 1):
        facts: dict[str, Any] = {}
        expect: dict[str, Any] = {}
        for column, text_value in row.items():
            if column in ("id", "note") or text_value is None or not text_value.strip():
                continue
            where = f"row {number}.{column}"
            if column.startswith("expect."):
                name = column.removeprefix("expect.")
                expect[name] = _cell(outputs[name], text_value, where)
            else:
                facts[column] = _cell(inputs[column], text_value, where)
        note = (row.get("note") or "").strip() or None
        found.append(
            ScenarioData((row.get("id") or "").strip() or f"row{number}", facts, expect, note)
        )
    return found


def _key(name: str) -> str:
    return re.sub(r"[\W_]+", "", name).lower()


def _typed(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _plain(value)
    return value


def _from_tck(text: str, doc: Document) -> list[ScenarioData]:
    try:
        root = parse_xml(text, "TCK test file")
    except DmnError as exc:
        raise _fail("file", str(exc)) from exc
    if local(root.tag) != "testCases":
        raise _fail("file", "not a DMN TCK test file: the root element must be <testCases>")
    inputs = {_key(i.name): i.name for i in doc.inputs}
    outputs = {_key(o.name): o.name for o in doc.outputs}
    found: list[ScenarioData] = []
    for number, case in enumerate(children(root, "testCase"), 1):
        case_id = case.get("id") or str(number)
        where = f"testCase[{case_id}]"
        facts: dict[str, Any] = {}
        for node in children(case, "inputNode"):
            name = node.get("name", "")
            value = _value(node)
            if isinstance(value, dict | list | Unsupported):
                raise _fail(f"{where}.{name}", "a structured or unsupported value")
            if _key(name) in inputs:
                facts[inputs[_key(name)]] = _typed(value)
        expect = _expectations(case, where, outputs, doc)
        description = child(case, "description")
        note = (description.text or "").strip() if description is not None else None
        found.append(ScenarioData(f"tck-{case_id}", facts, expect, note or None))
    if not found:
        raise _fail("testCases", "the TCK test file has no test cases")
    return found


def _expectations(case: Any, where: str, outputs: dict[str, str], doc: Document) -> dict[str, Any]:
    expect: dict[str, Any] = {}
    for node in children(case, "resultNode"):
        element = child(node, "expected")
        if element is None:
            continue
        value = _value(element)
        if isinstance(value, dict):
            for name, item in value.items():
                if _key(name) not in outputs:
                    raise _fail(f"{where}.{name}", f"no output of {doc.name} is named {name!r}")
                expect[outputs[_key(name)]] = _typed(item)
        elif len(doc.outputs) == 1:
            plain = [_typed(v) for v in value] if isinstance(value, list) else _typed(value)
            if isinstance(plain, Unsupported):
                raise _fail(where, "an unsupported expected value")
            expect[doc.outputs[0].name] = plain
        else:
            raise _fail(where, "a single expected value, but the ruleset has several outputs")
    return expect
