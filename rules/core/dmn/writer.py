"""Exporting a ruleset document as a DMN 1.5 model: one decision, one decision table.

Each rule's condition must split into one exact unary test per input column; a condition that
ties inputs together (an ``any`` across two inputs, say) raises
:class:`~rules.errors.DmnError` naming the rule. Output entries are each rule's full row
(outputs a rule leaves out take their default), so importing the export decides alike.
What DMN has no place for (review settings, ``protected``/``pii`` flags) is not written, and
``integer`` is written as DMN's ``number``.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element, SubElement, indent, tostring

from rules.core.dmn.cells import cell_of
from rules.core.dmn.feel import Equal, UnaryTests, format_literal, format_tests
from rules.core.dmn.reader import slug
from rules.core.document import Document, Input, Output, Rule, Scalar
from rules.core.three_valued import FALSE, TRUE, And, Atom, Formula, Or, true_form
from rules.errors import DmnError, Problem

__all__ = ["DMN15_NAMESPACE", "export_dmn"]

DMN15_NAMESPACE = "https://www.omg.org/spec/DMN/20230324/MODEL/"
FEEL15_NAMESPACE = "https://www.omg.org/spec/DMN/20230324/FEEL/"
_NCNAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
# Names a FEEL input expression would read as something else than the input.
_FEEL_WORDS = frozenset(
    """and between else every external false for function if in instance not null of or
    return satisfies some then true""".split()  # noqa: SIM905 - a word list reads best as words
)


def _dmn_type(kind: str) -> str:
    return "number" if kind == "integer" else kind


def _rule_error(index: int, rule: Rule, message: str) -> DmnError:
    where = f"rules[{index}] (id {rule.id!r})"
    return DmnError(f"cannot export {where} to DMN: {message}", [Problem("RB606", where, message)])


def _inputs_of(form: Formula, found: set[str]) -> set[str]:
    if isinstance(form, Atom):
        found.add(form.input)
    elif isinstance(form, And | Or):
        for item in form.items:
            _inputs_of(item, found)
    return found


def _rule_cells(doc: Document, index: int, rule: Rule) -> list[str]:
    """One FEEL unary test per input column, exactly equivalent to the rule's condition."""
    form = true_form(rule.when)
    if form == FALSE:
        raise _rule_error(index, rule, "its condition can never hold; remove the rule")
    parts = () if form == TRUE else form.items if isinstance(form, And) else (form,)
    by_input: dict[str, list[Formula]] = {}
    for part in parts:
        names = _inputs_of(part, set())
        if len(names) != 1:
            raise _rule_error(
                index,
                rule,
                f"its condition joins inputs {', '.join(sorted(names))} in one 'any' (or a "
                "'not' of an 'all'); a decision table tests each input in its own column: "
                "split the rule into one rule per alternative",
            )
        by_input.setdefault(names.pop(), []).append(part)
    cells = []
    for spec in doc.inputs:
        items = by_input.get(spec.name)
        if not items:
            cells.append("-")
            continue
        try:
            form = items[0] if len(items) == 1 else And(tuple(items))
            cell = cell_of(form, spec.type, _allowed(spec))
        except DmnError as exc:
            raise _rule_error(index, rule, f"on input {spec.name!r}, {exc.args[0]}") from exc
        cells.append(format_tests(cell))
    return cells


def _same(a: Scalar | None, b: Scalar | None) -> bool:
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def _rows(doc: Document) -> list[list[Scalar | None]]:
    rows: list[list[Scalar | None]] = []
    for index, rule in enumerate(doc.rules):
        given = rule.then_dict
        row = [given.get(o.name, o.default) for o in doc.outputs]
        if doc.aggregation == "COUNT" and any(_same(row[0], r[0]) for r in rows):
            raise _rule_error(
                index,
                rule,
                "an earlier rule has the same output; under COLLECT COUNT DMN engines count "
                "distinct outputs, the ruleset counts matching rules: give each rule its own "
                "output value",
            )
        if doc.aggregation in ("SUM", "MIN", "MAX") and None in row:
            raise _rule_error(
                index,
                rule,
                f"it gives no value to {doc.outputs[0].name!r}: the ruleset skips it under "
                f"COLLECT {doc.aggregation} but DMN's result would be null",
            )
        rows.append(row)
    return rows


def _allowed(spec: Input) -> tuple[Scalar, ...] | None:
    """The values an input with a list of values may take (within its bounds)."""
    if spec.values is None:
        return None
    return tuple(
        v
        for v in spec.values
        if isinstance(v, str | bool)
        or ((spec.min is None or v >= spec.min) and (spec.max is None or v <= spec.max))
    )


def _input_values(spec: Input) -> str | None:
    """The input's allowed values, bounds and nullability as DMN inputValues (which refuse
    anything they do not list, null included)."""
    parts: list[str] = []
    kept = _allowed(spec)
    if kept is not None:
        parts = [format_literal(v) for v in kept] or ["null"]
    elif spec.min is not None and spec.max is not None:
        parts = [f"[{format_literal(spec.min)}..{format_literal(spec.max)}]"]
    elif spec.min is not None:
        parts = [f">= {format_literal(spec.min)}"]
    elif spec.max is not None:
        parts = [f"<= {format_literal(spec.max)}"]
    if spec.required:
        return ", ".join(parts) if parts else "not(null)"
    return ", ".join([*parts, "null"]) if parts else None


def _text(parent: Element, tag: str, text: str, **attrs: str) -> Element:
    element = SubElement(parent, tag, attrs)
    SubElement(element, "text").text = text
    return element


def _output(table: Element, doc: Document, k: int, out: Output, defaults: bool) -> None:
    attributes = {"id": f"_rb_output_{k}", "name": out.name, "typeRef": _dmn_type(out.type)}
    if out.description:
        attributes["label"] = out.description
    element = SubElement(table, "output", attributes)
    if out.values:
        values = format_tests(UnaryTests(tuple(Equal(v) for v in out.values)))
        _text(element, "outputValues", values, id=f"_rb_output_values_{k}")
    if defaults and out.default is not None:
        _text(element, "defaultOutputEntry", format_literal(out.default), id=f"_rb_default_{k}")


def export_dmn(doc: Document) -> str:
    """The document as a DMN 1.5 model that decides alike when imported again."""
    for i, spec in enumerate(doc.inputs):
        if spec.name in _FEEL_WORDS:
            message = f"{spec.name!r} is a FEEL keyword, so DMN cannot name an input so: rename it"
            raise DmnError(
                f"cannot export inputs[{i}] to DMN: {message}",
                [Problem("RB606", f"inputs[{i}].name", message)],
            )
    cells = [_rule_cells(doc, i, rule) for i, rule in enumerate(doc.rules)]
    rows = _rows(doc)
    # The ruleset uses defaults on no match only when every output has one (and never under
    # COUNT); DMN would answer a partial result, so otherwise none is written.
    defaults = all(o.has_default for o in doc.outputs) and doc.aggregation != "COUNT"
    root = Element(
        "definitions",
        {
            "xmlns": DMN15_NAMESPACE,
            "id": "_rb_definitions",
            "name": doc.name,
            "namespace": f"urn:rulebook:{doc.name}",
            "expressionLanguage": FEEL15_NAMESPACE,
            "typeLanguage": FEEL15_NAMESPACE,
            "exporter": "Rulebook",
        },
    )
    # The decision is named by the title when the title slugs back to the document's name (so
    # TCK files naming an imported decision still find it), else by the name, titled by a label.
    titled = doc.title is not None and slug(doc.title) == doc.name
    decision_name = doc.title if titled and doc.title else doc.name
    decision = SubElement(root, "decision", {"id": "_rb_decision", "name": decision_name})
    if doc.title and not titled:
        decision.set("label", doc.title)
    if doc.description:
        SubElement(decision, "description").text = doc.description
    variable = SubElement(decision, "variable", {"id": "_rb_variable", "name": decision_name})
    if len(doc.outputs) == 1:
        variable.set("typeRef", _dmn_type(doc.outputs[0].type))
    for k in range(len(doc.inputs)):
        requirement = SubElement(decision, "informationRequirement", {"id": f"_rb_requires_{k}"})
        SubElement(requirement, "requiredInput", {"href": f"#_rb_input_data_{k}"})
    table = SubElement(
        decision,
        "decisionTable",
        {"id": "_rb_table", "hitPolicy": doc.hit_policy, "outputLabel": doc.title or doc.name},
    )
    if doc.aggregation:
        table.set("aggregation", doc.aggregation)
    for k, spec in enumerate(doc.inputs):
        label = spec.description or spec.name
        column = SubElement(table, "input", {"id": f"_rb_input_{k}", "label": label})
        _text(
            column, "inputExpression", spec.name, id=f"_rb_expr_{k}", typeRef=_dmn_type(spec.type)
        )
        values = _input_values(spec)
        if values is not None:
            _text(column, "inputValues", values, id=f"_rb_input_values_{k}")
    for k, out in enumerate(doc.outputs):
        _output(table, doc, k, out, defaults)
    for i, (rule, texts, row) in enumerate(zip(doc.rules, cells, rows, strict=True)):
        rule_id = rule.id if _NCNAME.match(rule.id) else f"_{rule.id}"
        element = SubElement(table, "rule", {"id": rule_id})
        if rule.description:
            SubElement(element, "description").text = rule.description
        for k, text in enumerate(texts):
            _text(element, "inputEntry", text, id=f"_rb_r{i}_in{k}")
        for k, value in enumerate(row):
            _text(element, "outputEntry", format_literal(value), id=f"_rb_r{i}_out{k}")
    for k, spec in enumerate(doc.inputs):
        data = SubElement(root, "inputData", {"id": f"_rb_input_data_{k}", "name": spec.name})
        SubElement(
            data,
            "variable",
            {"id": f"_rb_input_var_{k}", "name": spec.name, "typeRef": _dmn_type(spec.type)},
        )
    indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="unicode") + "\n"
