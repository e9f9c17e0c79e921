"""DMN interchange: TCK and own models through verify, import errors, export round trips.

Golden data: ``tests/data/tck/dmn`` (a subset of the DMN TCK) and ``tests/data/dmn`` (models
and TCK-style test files for what the subset leaves out: OUTPUT ORDER, COLLECT COUNT/MAX,
multi-output ANY/PRIORITY/COLLECT, ranges, not(...), null, defaults); ``tests/data/dmn/export``
holds ruleset documents exported to DMN and imported back.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.core.dmn import export_dmn, import_dmn, read_dmn, verify
from rules.core.dmn.feel import format_literal, matches, parse_unary_tests
from rules.core.document import Between, Document, load_document
from rules.core.engine import evaluate
from rules.core.engine.hit_policies import Result
from rules.core.validate import leaves
from rules.errors import DmnError

DATA = Path(__file__).resolve().parents[2] / "data"
TCK = sorted(p for p in (DATA / "tck" / "dmn").iterdir() if p.is_dir())
OWN = sorted(p for p in (DATA / "dmn").iterdir() if p.is_dir() and p.name != "export")
EXPORT_DOCS = sorted((DATA / "dmn" / "export").glob("*.yaml"))


def _model_and_tests(folder: Path) -> tuple[bytes, bytes]:
    (model,) = folder.glob("*.dmn")
    (tests,) = folder.glob("*-test-01.xml")
    return model.read_bytes(), tests.read_bytes()


def _outcome(result: Result) -> tuple[Any, ...]:
    """What a decision table answers (``exception`` also depends on review, which DMN lacks)."""
    return (result.outputs, result.rule_ids, result.matched, result.error)


# --------------------------------------------------------------------------- verify


@pytest.mark.parametrize("folder", TCK + OWN, ids=lambda p: p.name)
def test_every_case_passes(folder: Path) -> None:
    model, tests = _model_and_tests(folder)
    report = verify(model, tests)
    assert report.passed, str(report)
    assert len(report.cases) == tests.count(b"<resultNode")


def test_tck_subset_is_complete() -> None:
    assert len(TCK) == 12
    assert (DATA / "tck" / "dmn" / "testCases.xsd").is_file()
    # The note says where the copy comes from (upstream, at which commit) and why it is here.
    note = (DATA / "tck" / "dmn" / "SOURCE.md").read_text()
    assert "repository dmn-tck/tck" in note
    assert "snapshot commit 0dbcaf9b98bc3af4e36d44a7aed95e9e85703a13" in note
    assert "Kept in this repository" in note


@pytest.mark.parametrize("folder", TCK + OWN, ids=lambda p: p.name)
def test_import_export_import_decides_alike_on_every_case(folder: Path) -> None:
    model, tests = _model_and_tests(folder)
    original = {(c.id, c.decision): c for c in verify(model, tests).cases}
    for decision in sorted(set(_result_names(tests))):
        first = read_dmn(model, decision=decision)
        exported = export_dmn(first.document)
        again = read_dmn(exported)
        assert export_dmn(again.document) == exported
        if folder in TCK:
            assert again.document == first.document
        assert again.decision == first.decision
        if len(first.outputs) > 1:  # component names; a single output's result is its value
            # The export names outputs by their document names (Approved/Declined:
            # approved_declined), so names that already were identifiers survive unchanged.
            assert again.outputs == {name: name for name in first.outputs}
            if all(name == dmn_name for name, dmn_name in first.outputs.items()):
                assert again.outputs == first.outputs
        # The export names inputs by their document names (Customer Status: customer_status).
        renamed = tests
        for dmn_name, name in first.inputs.items():
            renamed = renamed.replace(f'name="{dmn_name}"'.encode(), f'name="{name}"'.encode())
        if len(first.outputs) > 1:
            for name, dmn_name in first.outputs.items():
                renamed = renamed.replace(
                    f'<component name="{dmn_name}"'.encode(), f'<component name="{name}"'.encode()
                )
        cases = [c for c in verify(exported, renamed).cases if c.decision == decision]
        assert cases
        by_name = {dmn_name: name for name, dmn_name in first.outputs.items()}
        for case in cases:
            assert case.passed, case
            expected = original[(case.id, case.decision)].actual
            assert case.actual == _renamed(expected, by_name if len(first.outputs) > 1 else {})


def _renamed(actual: Any, names: dict[str, str]) -> Any:
    """A TCK result with its component names mapped to the document's output names."""
    if isinstance(actual, list):
        return [_renamed(item, names) for item in actual]
    if isinstance(actual, dict):
        return {names.get(k, k): v for k, v in actual.items()}
    return actual


def _result_names(tests: bytes) -> list[str]:
    text = tests.decode()
    return [part.split('"', 1)[0] for part in text.split('<resultNode name="')[1:]]


def test_report_forms() -> None:
    model, tests = _model_and_tests(TCK[0])
    wrong = tests.replace(b">Approved<", b">Declined<", 1)
    report = verify(model, wrong)
    assert not report.passed
    data = json.loads(json.dumps(report.to_dict()))
    assert (data["total"], data["failed"]) == (3, 1)
    failed = data["cases"][0]
    assert failed == {
        "id": "001",
        "decision": "Approval Status",
        "passed": False,
        "expected": "Declined",
        "actual": "Approved",
        "message": "",
    }
    text = str(report)
    assert 'FAIL 001 Approval Status: expected "Declined", got "Approved"' in text
    assert 'PASS 002 Approval Status = "Declined"' in text
    assert text.endswith("3 cases: 2 passed, 1 failed")


def test_numbers_compare_as_decimals() -> None:
    model, tests = _model_and_tests(DATA / "dmn" / "collect-max")
    report = verify(model, tests)
    by_id = {c.id: c for c in report.cases}
    assert by_id["max-two"].passed  # 1250.50 == 1250.5, exactly
    assert by_id["max-two"].message == ""
    assert by_id["sum-decimals"].passed
    assert "15 significant digits" in by_id["sum-decimals"].message
    off = tests.replace(b">0.3<", b">0.3000001<")
    assert not {c.id: c for c in verify(model, off).cases}["sum-decimals"].passed


def test_verify_reports_cases_it_cannot_run() -> None:
    model, tests = _model_and_tests(TCK[0])
    other = tests.replace(b'resultNode name="Approval Status"', b'resultNode name="Nope"', 1)
    case = verify(model, other).cases[0]
    assert not case.passed
    assert "no decision 'Nope'" in case.message
    typed = tests.replace(b'xsi:type="xsd:decimal">18<', b'xsi:type="xsd:date">2020-01-01<', 1)
    assert "unsupported" in verify(model, typed).cases[0].message


def test_facts_refused_count_as_dmns_null_result() -> None:
    """DMN answers null (an error) for an input outside its inputValues, null included."""
    model, tests = _model_and_tests(TCK[0])
    without = re.sub(
        rb'<inputNode name="RiskCategory">.*?</inputNode>', b"", tests, count=1, flags=re.S
    )
    case = verify(model, without).cases[0]
    assert not case.passed  # Approved was expected
    assert "facts rejected" in case.message
    assert "'RiskCategory' is required" in case.message
    expecting_null = re.sub(
        rb"<expected>.*?</expected>",
        b'<expected><value xsi:nil="true"/></expected>',
        without,
        count=1,
        flags=re.S,
    )
    assert verify(model, expecting_null).cases[0].passed


def test_verify_rejects_files_that_are_not_tck() -> None:
    model, _ = _model_and_tests(TCK[0])
    with pytest.raises(DmnError, match="not a DMN TCK test file"):
        verify(model, model)
    with pytest.raises(DmnError, match="no test cases"):
        verify(model, b'<testCases xmlns="http://www.omg.org/spec/DMN/20160719/testcase"/>')


# --------------------------------------------------------------------------- import


def test_import_maps_names_types_and_values() -> None:
    model, _ = _model_and_tests(DATA / "dmn" / "negation-null")
    imported = read_dmn(model)
    doc = imported.document
    assert imported.decision == "Tags"
    assert imported.inputs == {
        "Customer Status": "customer_status",
        "Score": "Score",
        "Member": "Member",
    }
    assert [(i.name, i.type, i.required) for i in doc.inputs] == [
        ("customer_status", "string", False),
        ("Score", "number", False),
        ("Member", "boolean", False),
    ]
    assert doc.inputs[0].description == "Customer status"
    assert (doc.name, doc.title, doc.hit_policy) == ("tags", "Tags", "RULE ORDER")
    assert [r.id for r in doc.rules][:3] == ["not-listed", "status-null", "status-present"]


def test_import_of_tck_model_keeps_values_defaults_and_ids() -> None:
    model, _ = _model_and_tests(DATA / "tck" / "dmn" / "0010-multi-output-U")
    doc = import_dmn(model)
    assert [(o.name, o.values, o.default) for o in doc.outputs] == [
        ("Status", ("Approved", "Declined"), "Declined"),
        ("Rate", ("Best", "Standard"), "Standard"),
    ]
    risk = doc.input("RiskCategory")
    assert risk is not None
    assert risk.values == ("High", "Low", "Medium")
    assert risk.required  # DMN refuses a value outside inputValues, null included
    assert doc.rules[0].id == "ca85854c-27a3-4001-b2ac-23a164ca5940"  # leading "_" dropped


def test_not_of_equalities_matches_null_as_feel_does() -> None:
    model, _ = _model_and_tests(DATA / "dmn" / "negation-null")
    doc = import_dmn(model)
    result = evaluate(doc, {"customer_status": None})
    assert "not-listed" in result.matched
    assert "present-not-gold" not in result.matched


_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20230324/MODEL/" id="d" name="d" namespace="urn:x">
  <decision id="dec" name="Check">
    <variable name="Check" typeRef="{var_type}"/>
    <decisionTable id="t" hitPolicy="{policy}"{aggregation}>
      <input id="i1" label="Age">
        <inputExpression typeRef="{age_type}"><text>{age_expr}</text></inputExpression>
      </input>
      <input id="i2"><inputExpression typeRef="string"><text>Name</text></inputExpression></input>
      <output id="o1" name="Result" typeRef="{out_type}">{default}</output>
      <rule id="r1">
        <inputEntry><text>&gt; 1</text></inputEntry><inputEntry><text>-</text></inputEntry>
        <outputEntry><text>{out1}</text></outputEntry>
      </rule>
      <rule id="_r2">
        <inputEntry><text>{age_cell}</text></inputEntry>
        <inputEntry><text>{name_cell}</text></inputEntry>
        <outputEntry><text>{out2}</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
  <inputData id="age" name="Age"><variable name="Age" typeRef="number"/></inputData>
</definitions>
"""


def _model(**changes: str) -> str:
    fields = {
        "var_type": "string",
        "policy": "FIRST",
        "aggregation": "",
        "age_type": "number",
        "age_expr": "Age",
        "out_type": "string",
        "default": "",
        "out1": '"a"',
        "out2": '"b"',
        "age_cell": "-",
        "name_cell": "-",
    }
    fields.update(changes)
    return _TEMPLATE.format(**fields)


def test_template_imports() -> None:
    doc = import_dmn(_model(age_cell="[1..2)", name_cell='"x"'))
    assert [r.id for r in doc.rules] == ["r1", "r2"]


@pytest.mark.parametrize(
    ("cell", "why"),
    [
        ('date("2020-01-01")', "found the name 'date'"),
        ("> Limit", "found the name 'Limit'"),
        ("? > 5", "cannot read the character '?'"),
        ("[1..5", "a range ends with"),
        ("1e5", "unexpected 'e5'"),
        ('"open', "cannot read an unterminated string"),
        ("Age + 1", "cannot read the character '+'"),
        ('"x"', '"x" is not a number'),
        ("true", "true is not a number"),
        ('[1.."b"]', "both be numbers or both be strings"),
        ("0.12345678901234567891", "more digits than a double"),
        ("not(-)", "expected a literal"),
    ],
)
def test_unsupported_input_entry_names_the_cell(cell: str, why: str) -> None:
    with pytest.raises(DmnError) as caught:
        import_dmn(_model(age_cell=cell.replace("<", "&lt;").replace(">", "&gt;")))
    message = str(caught.value)
    assert "rule 2 (id '_r2'), input 'Age'" in message
    assert repr(cell) in message
    assert why in message
    assert caught.value.problems[0].code == "RB603"


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("Age * 2", "cannot read the character '*'"),
        ('"a" + "b"', "cannot read the character '+'"),
        ("Name", "found the name 'Name'"),
        ("5", "5 is not of the column's type, string"),
        ("string(5)", "found the name 'string'"),
    ],
)
def test_unsupported_output_entry_names_the_cell(entry: str, why: str) -> None:
    with pytest.raises(DmnError) as caught:
        import_dmn(_model(out2=entry))
    message = str(caught.value)
    assert "rule 2 (id '_r2'), output 'Result'" in message
    assert repr(entry) in message
    assert why in message


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"age_expr": "Age + 1"}, "input expression 'Age + 1' is a FEEL expression"),
        ({"age_expr": "Applicant.age"}, "is a FEEL expression"),
        ({"age_type": "date"}, "type 'date' is not supported"),
        ({"out_type": "dateTime"}, "type 'dateTime' is not supported"),
        ({"policy": "SOMETIMES"}, "unknown hit policy"),
        ({"aggregation": ' aggregation="SUM"'}, "needs COLLECT"),
        (
            {
                "policy": "COLLECT",
                "aggregation": ' aggregation="SUM"',
                "out_type": "number",
                "out1": "1",
                "out2": "null",
            },
            "a null output under COLLECT SUM",
        ),
        (
            {"policy": "COLLECT", "aggregation": ' aggregation="COUNT"', "out2": '"a"'},
            "DMN counts distinct outputs",
        ),
        (
            {
                "policy": "COLLECT",
                "aggregation": ' aggregation="COUNT"',
                "default": '<defaultOutputEntry><text>"z"</text></defaultOutputEntry>',
            },
            "COLLECT COUNT answers 0",
        ),
        ({"policy": "PRIORITY"}, "declare the values of 'Result'"),
    ],
)
def test_unsupported_models_raise(changes: dict[str, str], why: str) -> None:
    with pytest.raises(DmnError, match="cannot import decision 'Check'") as caught:
        import_dmn(_model(**changes))
    assert why in str(caught.value)


def test_chained_decisions_and_choice_of_decision() -> None:
    model, _ = _model_and_tests(DATA / "dmn" / "collect-max")
    with pytest.raises(DmnError, match="choose the decision") as caught:
        import_dmn(model)
    assert "'Limit', 'Discount Total'" in str(caught.value)
    assert import_dmn(model, decision="Discount Total").aggregation == "SUM"
    assert import_dmn(model, decision="limit").aggregation == "MAX"  # by id
    chained = (
        _model()
        .replace("</definitions>", '<decision id="x" name="Age Band"/></definitions>')
        .replace("<text>Age</text>", "<text>Age Band</text>")
    )
    with pytest.raises(DmnError, match="reads decision 'Age Band'"):
        import_dmn(chained, decision="Check")


def test_partial_defaults_are_refused() -> None:
    model, _ = _model_and_tests(DATA / "tck" / "dmn" / "0010-multi-output-U")
    partial = model.replace(b"<defaultOutputEntry>", b"<defaultOutputEntryX>", 1)
    partial = partial.replace(b"</defaultOutputEntry>", b"</defaultOutputEntryX>", 1)
    with pytest.raises(DmnError, match="only some outputs have a default"):
        import_dmn(partial)


@pytest.mark.parametrize(
    ("source", "why"),
    [
        (b"not xml at all", "not well-formed XML"),
        (b"<html/>", "not a DMN model"),
        (
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
            b"<definitions>&b;</definitions>",
            "refused for safety",
        ),
        (b'<definitions xmlns="http://www.omg.org/spec/DMN/20180521/MODEL/"/>', "no decision"),
    ],
)
def test_unreadable_models(source: bytes, why: str) -> None:
    with pytest.raises(DmnError, match=why):
        import_dmn(source)


# --------------------------------------------------------------------------- FEEL vs engine

_NUMBERS = [-2, -1.5, 0, 0.1, 1, 2.5, 3, 10]
_STRINGS = ["", "a", "b", "gold", "silver", 'q"uote']


def _cells(values: list[Any]) -> st.SearchStrategy[str]:
    literal = st.sampled_from(values).map(format_literal)
    compare = st.tuples(st.sampled_from(["<", "<=", ">", ">=", "=", "!="]), literal).map(
        lambda t: f"{t[0]} {t[1]}"
    )
    interval = st.tuples(st.sampled_from("[(]"), literal, literal, st.sampled_from("])[")).map(
        lambda t: f"{t[0]}{t[1]}..{t[2]}{t[3]}"
    )
    test = st.one_of(literal, compare, interval, st.just("null"), st.just("!= null"))
    tests = st.lists(test, min_size=1, max_size=3).map(", ".join)
    return st.one_of(tests, tests.map(lambda t: f"not({t})"), st.just("-"))


def _one_column_model(kind: str, cells: list[str]) -> str:
    rules = "".join(
        f'<rule id="c{i}"><inputEntry><text>{c.replace("&", "&amp;").replace("<", "&lt;")}'
        f"</text></inputEntry><outputEntry><text>{i}</text></outputEntry></rule>"
        for i, c in enumerate(cells)
    )
    return (
        '<definitions xmlns="https://www.omg.org/spec/DMN/20230324/MODEL/" name="p" id="p">'
        '<decision id="d" name="P"><decisionTable hitPolicy="RULE ORDER">'
        f'<input><inputExpression typeRef="{kind}"><text>x</text></inputExpression></input>'
        f'<output name="n" typeRef="number"/>{rules}</decisionTable></decision></definitions>'
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    kind=st.sampled_from(["number", "string", "boolean"]),
)
def test_imported_cells_match_exactly_when_feel_says_true(data: st.DataObject, kind: str) -> None:
    values: list[Any] = {"number": _NUMBERS, "string": _STRINGS, "boolean": [True, False]}[kind]
    pool = values if kind != "boolean" else [True, False]
    cells = data.draw(st.lists(_cells(pool), min_size=1, max_size=6))
    if kind == "boolean":
        cells = [c for c in cells if "<" not in c and ">" not in c and ".." not in c] or ["-"]
    doc = import_dmn(_one_column_model(kind, cells))
    probes = [*values, None, *([0.05, 2.9999, 11] if kind == "number" else ["ab", "z"])]
    if kind == "boolean":
        probes = [True, False, None]
    for value in probes:
        facts = {} if value is None else {"x": value}
        result = evaluate(doc, facts)
        expected = [f"c{i}" for i, c in enumerate(cells) if matches(parse_unary_tests(c), value)]
        assert list(result.matched) == expected, (value, cells)


# --------------------------------------------------------------------------- export


def _constants(doc: Document, name: str) -> list[Any]:
    found: list[Any] = []
    for rule in doc.rules:
        for leaf, _ in leaves(rule.when, ""):
            if leaf.input != name:
                continue
            value = leaf.value
            if isinstance(value, Between):
                found += [value.low, value.high]
            elif isinstance(value, tuple):
                found += list(value)
            elif value is not None:
                found.append(value)
    return found


_ABSENT = object()


def _facts(doc: Document) -> st.SearchStrategy[dict[str, Any]]:
    """Valid facts for ``doc``, near its constants; optional inputs may be null or absent."""
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for spec in doc.inputs:
        near = _constants(doc, spec.name)
        if spec.type == "boolean":
            pool: st.SearchStrategy[Any] = st.booleans()
        elif spec.values is not None:
            pool = st.sampled_from(spec.values)
        elif spec.type == "string":
            pool = st.sampled_from([*near, "", "a", "b", "zz", "VIP"])
        else:
            numbers = [*near, *(v + d for v in near for d in (-1, -0.5, 0.5, 1)), 0]
            if spec.min is not None and spec.max is not None:
                numbers = [spec.min, spec.max, *(n for n in numbers if spec.min <= n <= spec.max)]
            if spec.type == "integer":
                numbers = [int(n) for n in numbers if float(n).is_integer()]
            pool = st.sampled_from(numbers)
        fields[spec.name] = pool if spec.required else st.one_of(st.just(_ABSENT), st.none(), pool)
    return st.fixed_dictionaries(fields).map(
        lambda facts: {k: v for k, v in facts.items() if v is not _ABSENT}
    )


@pytest.mark.parametrize("path", EXPORT_DOCS, ids=lambda p: p.stem)
def test_export_then_import_decides_alike(path: Path) -> None:
    doc = load_document(path.read_text())
    again = import_dmn(export_dmn(doc))
    assert (again.name, again.title, again.hit_policy, again.aggregation) == (
        doc.name,
        doc.title,
        doc.hit_policy,
        doc.aggregation,
    )
    assert [r.id for r in again.rules] == [r.id for r in doc.rules]
    assert [i.required for i in again.inputs] == [i.required for i in doc.inputs]

    @settings(max_examples=150, deadline=None)
    @given(facts=_facts(doc))
    def decides_alike(facts: dict[str, Any]) -> None:
        assert _outcome(evaluate(again, facts)) == _outcome(evaluate(doc, facts))

    decides_alike()


def test_export_is_dmn_15_with_the_table() -> None:
    doc = load_document((DATA / "dmn" / "export" / "loans.yaml").read_text())
    text = export_dmn(doc)
    assert 'xmlns="https://www.omg.org/spec/DMN/20230324/MODEL/"' in text
    assert '<decision id="_rb_decision" name="Loan offer">' in text
    assert '<decisionTable id="_rb_table" hitPolicy="FIRST"' in text
    assert "<text>(700..800]</text>" in text
    assert '<text>not("east", null)</text>' in text
    assert '<text>"north", "south", "east", "west", null</text>' in text
    assert "<text>[300..850]</text>" in text


def test_export_refuses_conditions_across_inputs() -> None:
    doc = load_document(
        """
name: joined
inputs: [{name: a, type: number}, {name: b, type: number}]
outputs: [{name: o, type: string}]
hit_policy: FIRST
rules:
  - {id: ok, when: {input: a, op: gt, value: 1}, then: {o: x}}
  - id: either
    when: {any: [{input: a, op: gt, value: 1}, {input: b, op: gt, value: 1}]}
    then: {o: y}
"""
    )
    with pytest.raises(DmnError, match=r"cannot export rules\[1\] \(id 'either'\)") as caught:
        export_dmn(doc)
    assert "joins inputs a, b" in str(caught.value)
    assert caught.value.problems[0].code == "RB606"


def test_export_refuses_what_dmn_would_answer_differently() -> None:
    base = """
name: agg
inputs: [{name: a, type: number}]
outputs: [{name: o, type: number}]
hit_policy: COLLECT
aggregation: {agg}
rules:
  - {id: one, when: {input: a, op: gt, value: 1}, then: {o: 1}}
  - {id: two, when: {input: a, op: gt, value: 2}, then: {o: {second}}}
"""
    with pytest.raises(DmnError, match="DMN's result would be null"):
        export_dmn(load_document(base.replace("{agg}", "SUM").replace("{second}", "null")))
    with pytest.raises(DmnError, match="count distinct outputs"):
        export_dmn(load_document(base.replace("{agg}", "COUNT").replace("{second}", "1")))
    never = base.replace("{agg}", "MAX").replace("{second}", "2")
    never = never.replace("{input: a, op: gt, value: 2}", "{any: []}")
    with pytest.raises(DmnError, match="can never hold"):
        export_dmn(load_document(never))
    keyword = base.replace("{agg}", "MAX").replace("{second}", "2").replace("name: a,", "name: in,")
    keyword = keyword.replace("input: a,", "input: in,")
    with pytest.raises(DmnError, match="'in' is a FEEL keyword"):
        export_dmn(load_document(keyword))
