"""Hostile ruleset documents and DMN files: only clear errors, never a crash (issue 12).

Generated and mutated documents (as data, and as YAML/JSON text) go through parsing,
validation, the static checks, compilation and DMN export; generated and mutated DMN models
and TCK files go through import and ``verify``. Each either succeeds or raises a
:class:`~rules.errors.RulebookError` whose problems carry a code, a location or a message
naming what is wrong; any other exception is a defect. Bounded to run in seconds.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rules.core.check import Limits, check_document
from rules.core.dmn import export_dmn, import_dmn, verify
from rules.core.document import load_document, parse_document
from rules.core.engine import compile_document
from rules.core.validate import validate_document
from rules.errors import DocumentError, RulebookError
from tests.rules.core.strategies import document_data

DATA = Path(__file__).resolve().parents[2] / "data"
TCK = sorted(p for p in (DATA / "tck" / "dmn").iterdir() if p.is_dir())
OWN = sorted(p for p in (DATA / "dmn").iterdir() if p.is_dir() and p.name != "export")
MODELS = [
    (next(p.glob("*.dmn")).read_bytes(), next(p.glob("*-test-01.xml")).read_bytes())
    for p in TCK + OWN
]
SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LIMITS = Limits(work=20_000)


def _clear(error: RulebookError) -> None:
    """A refusal a person can act on: problems, each with a code and a message, and at least
    one naming where (a location) or what (the message)."""
    assert error.problems, repr(error)
    for problem in error.problems:
        assert problem.code.startswith("RB"), problem
        assert problem.message.strip(), problem
    assert str(error).strip()


# --------------------------------------------------------------------------- documents

JUNK = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | st.sampled_from(["", "eq", "between", "UNIQUE", "COLLECT", "SUM", "number", "-", "x" * 300]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, (*path, i))
    return found


def _mutate(data: Any, path: tuple[Any, ...], how: str, junk: Any) -> Any:
    if not path:
        return junk
    data = copy.deepcopy(data)
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if how == "delete":
        del parent[last]
    elif how == "extra" and isinstance(parent, dict):
        parent[f"{last}_x"] = junk
    elif how == "wrap":
        parent[last] = [parent[last]]
    else:
        parent[last] = junk
    return data


@st.composite
def mutated_documents(draw: st.DrawFn) -> Any:
    data = draw(document_data(rules=(0, 4)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(data)))
        how = draw(st.sampled_from(["replace", "delete", "extra", "wrap"]))
        data = _mutate(data, path, how, draw(JUNK))
    return data


def _through_the_core(data: Any) -> None:
    try:
        doc = parse_document(data)
        validate_document(doc)
        check_document(doc, LIMITS)
        doc.canonical_json()
        compile_document(doc)
        export_dmn(doc)
    except RulebookError as error:
        _clear(error)


@SETTINGS
@given(mutated_documents())
@example(
    {
        "name": "x",
        "inputs": [],
        "outputs": [{"name": "o", "type": "string"}],
        "rules": [{"id": "r", "then": {"o": "x\ud800"}}],
    }
)
@example(
    {
        "name": "x",
        "inputs": [{"name": "n", "type": "number", "min": 1e308, "max": float("inf")}],
        "outputs": [{"name": "o", "type": "string"}],
        "rules": [],
    }
)
def test_mutated_documents_give_clear_errors(data: Any) -> None:
    _through_the_core(data)


@SETTINGS
@given(st.data())
def test_mutated_document_text_gives_clear_errors(data: st.DataObject) -> None:
    doc = data.draw(document_data(rules=(0, 3)))
    text = data.draw(st.sampled_from([json.dumps(doc), yaml.safe_dump(doc)]))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 4))
        insert = data.draw(
            st.sampled_from(
                [
                    "",
                    "{",
                    "]",
                    ":",
                    "\n  - ",
                    "&a",
                    "*a",
                    "!!python/object:os.system",
                    '"',
                    "\t",
                    "\x00",
                    "\ud800",
                    "1e999",
                ]
            )
        )
        text = text[:at] + insert + text[at + cut :]
    raw = data.draw(st.sampled_from([text, text.encode("utf-8", "surrogatepass")]))
    try:
        load_document(raw)
    except RulebookError as error:
        _clear(error)


@SETTINGS
@given(st.text(max_size=200) | st.binary(max_size=200))
@example(b"\xff\xfe")
@example("a: &x [*x]")
@example("[" * 2_000)
@example("- " * 2_000)
def test_arbitrary_text_is_never_a_crash(text: str | bytes) -> None:
    try:
        load_document(text)
    except RulebookError as error:
        _clear(error)


# --------------------------------------------------------------------------- DMN

ELEMENTS = [
    b"<rule",
    b"<input ",
    b"<output ",
    b"<inputEntry",
    b"<outputEntry",
    b"<decisionTable",
    b"<text>",
]
ATTRIBUTE_JUNK = st.sampled_from(
    ["", " ", "COLLECT", "PRIORITY", "sum", "date", "tX", "&amp;", "1e400", "string", "Any"]
)
TEXT_JUNK = st.sampled_from(
    [
        "",
        "-",
        "null",
        "not(",
        "[1..",
        '"a',
        ">= 1e999",
        "not(-)",
        "1,2,",
        '"x","y"',
        "true",
        "- 5",
        "> null",
        "]1..2[",
        "\u00e9",
        "&lt;5",
    ]
)


@st.composite
def mutated_models(draw: st.DrawFn) -> tuple[bytes, bytes]:
    model, tests = draw(st.sampled_from(MODELS))
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["text", "attribute", "drop", "truncate", "duplicate"]))
        if how == "text" and b"<text>" in model:
            parts = model.split(b"<text>")
            i = draw(st.integers(1, len(parts) - 1))
            close = parts[i].find(b"</text>")
            parts[i] = draw(TEXT_JUNK).encode() + parts[i][close:]
            model = b"<text>".join(parts)
        elif how == "attribute":
            name = draw(
                st.sampled_from(
                    [b'hitPolicy="', b'typeRef="', b'aggregation="', b'name="', b'id="']
                )
            )
            at = model.find(name)
            if at >= 0:
                start = at + len(name)
                end = model.index(b'"', start)
                model = model[:start] + draw(ATTRIBUTE_JUNK).encode() + model[end:]
        elif how == "drop":
            tag = draw(st.sampled_from(ELEMENTS))
            at = model.find(tag)
            if at >= 0:
                end = model.find(b">", at)
                model = model[:at] + model[end + 1 :]
        elif how == "duplicate":
            tag = draw(st.sampled_from(ELEMENTS))
            at = model.find(tag)
            if at >= 0:
                end = model.find(b">", at)
                model = model[: end + 1] + model[at : end + 1] + model[end + 1 :]
        else:
            model = model[: draw(st.integers(0, len(model)))]
    if draw(st.booleans()):
        at = draw(st.integers(0, len(tests)))
        tests = (
            tests[:at]
            + draw(st.sampled_from([b"", b"<value/>", b"<list>", b"x", b"<component/>"]))
            + tests[at:]
        )
    return model, tests


@SETTINGS
@given(mutated_models())
def test_mutated_dmn_models_give_clear_errors(case: tuple[bytes, bytes]) -> None:
    model, tests = case
    try:
        doc = import_dmn(model)
        check_document(doc, LIMITS)
        export_dmn(doc)
    except RulebookError as error:
        _clear(error)
    try:
        verify(model, tests)
    except RulebookError as error:
        _clear(error)


@SETTINGS
@given(st.binary(max_size=300) | st.text(max_size=300))
@example(b"<definitions/>")
@example(b'<?xml version="1.0" encoding="UTF-16"?><definitions/>')
@example(b'<?xml version="1.0" encoding="xUTF-8"?><definitions/>')  # unknown: LookupError
@example(b'<?xml version="1.0" encoding="rot13"?><definitions/>')  # not a text encoding
@example(b'<?xml version="1.0" encoding="shift_jis"?><definitions/>')  # expat: ValueError
@example(b"<definitions><decision><decisionTable/></decision></definitions>")
def test_arbitrary_bytes_as_dmn_are_never_a_crash(source: bytes | str) -> None:
    try:
        import_dmn(source)
    except RulebookError as error:
        _clear(error)


# --------------------------------------------------------------------------- what they found


def test_a_lone_surrogate_in_a_document_is_named_where_it_is() -> None:
    """Found by the properties above: JSON's ``"\\ud800"`` passed parsing, then the hash
    (UTF-8 of the canonical form) raised a bare UnicodeEncodeError/ValueError."""
    data = {
        "name": "x",
        "inputs": [],
        "outputs": [{"name": "o", "type": "string"}],
        "rules": [{"id": "r", "then": {"o": "x\ud800"}}],
    }
    for changed, location in (
        (data, "rules[0].then.o"),
        ({**data, "title": "T\udfff", "rules": []}, "title"),
    ):
        with pytest.raises(DocumentError) as caught:
            parse_document(changed)
        (problem,) = caught.value.problems
        assert (problem.code, problem.location) == ("RB002", location)
        assert "lone surrogate" in problem.message


def test_yaml_nested_past_the_recursion_limit_is_a_clear_error() -> None:
    """Found by the properties above: PyYAML's RecursionError escaped ``load_document``."""
    with pytest.raises(DocumentError, match="nested too deeply") as caught:
        load_document("- " * 2_000)
    assert caught.value.problems[0].code == "RB001"
