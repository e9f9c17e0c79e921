"""Importing one DMN decision table (DMN 1.1 to 1.5) as a ruleset document that decides alike.

Input columns become inputs (plain names kept, others such as ``Customer Status`` turned into
``customer_status``; optional, since DMN inputs may be null, unless their input values refuse
null), output columns outputs with their ``outputValues`` and ``defaultOutputEntry``, rules
keep ids derived from the DMN ids.
Whatever cannot be carried over exactly (FEEL expressions, dates, structured inputs, a
decision that needs another decision) raises :class:`~rules.errors.DmnError` naming the
element or cell; nothing is approximated.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rules.core.dmn.columns import Column
from rules.core.dmn.source import child, children, local, parse_xml, text_of
from rules.core.dmn.table import TableReader
from rules.core.document import AGGREGATIONS, HIT_POLICIES, Document, parse_document
from rules.core.validate import validate_document
from rules.errors import DmnError, DocumentError, Problem

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

__all__ = ["DmnImport", "import_dmn", "read_definitions", "read_dmn", "slug"]

_BUILTIN = {
    "number": "number",
    "double": "number",
    "integer": "integer",
    "long": "integer",
    "string": "string",
    "boolean": "boolean",
}
_ANY = ("Any", "any")
_EXPRESSIONS = ("literalExpression", "context", "invocation", "relation", "list", "conditional")


@dataclass(frozen=True, slots=True)
class DmnImport:
    """A decision table read from a DMN model, with how DMN names map onto the document."""

    document: Document
    decision: str
    inputs: dict[str, str]
    outputs: dict[str, str]


def read_dmn(source: bytes | str, *, decision: str | None = None) -> DmnImport:
    """Read a DMN model and import one decision table, keeping the DMN name mappings."""
    return read_definitions(parse_xml(source, "DMN model"), decision)


def import_dmn(source: bytes | str, *, decision: str | None = None) -> Document:
    """A ruleset document that decides as the DMN model's decision table does."""
    return read_dmn(source, decision=decision).document


def read_definitions(root: Element, decision: str | None = None) -> DmnImport:
    """Import one decision table from a parsed ``<definitions>`` element."""
    if local(root.tag) != "definitions":
        raise DmnError(
            "not a DMN model",
            [Problem("RB602", local(root.tag), "the root element must be <definitions>")],
        )
    model = _Model(root)
    element = model.decision(decision)
    return _Importer(model, element).run()


class _Model:
    """What the importer needs from ``<definitions>``: decisions, input data, item types."""

    def __init__(self, root: Element) -> None:
        self.decisions = children(root, "decision")
        self.items = {e.get("name", ""): e for e in children(root, "itemDefinition")}
        self.input_types: dict[str, str | None] = {}
        for data in children(root, "inputData"):
            variable = child(data, "variable")
            type_ref = variable.get("typeRef") if variable is not None else None
            self.input_types[_spaced(data.get("name", ""))] = type_ref
        self.decision_names = {_spaced(d.get("name", "")) for d in self.decisions}

    def decision(self, wanted: str | None) -> Element:
        names = [d.get("name", "") for d in self.decisions]
        if wanted is not None:
            for element in self.decisions:
                if wanted in (element.get("name"), element.get("id")):
                    return element
            raise DmnError(
                f"the model has no decision {wanted!r}",
                [
                    Problem(
                        "RB602", "decision", f"decisions: {', '.join(map(repr, names)) or 'none'}"
                    )
                ],
            )
        tables = [d for d in self.decisions if child(d, "decisionTable") is not None]
        if len(tables) == 1:
            return tables[0]
        found = ", ".join(repr(d.get("name", "")) for d in tables)
        raise DmnError(
            "choose the decision to import" if tables else "the model has no decision table",
            [
                Problem(
                    "RB602",
                    "decision",
                    f"decision tables in the model: {found}; name one"
                    if tables
                    else "only decisions whose logic is a <decisionTable> can be imported",
                )
            ],
        )

    def base_type(self, type_ref: str | None, where: str) -> tuple[str | None, list[str]]:
        """The ruleset type of a typeRef (None for none/Any) and the allowedValues on the way."""
        allowed: list[str] = []
        name = type_ref.strip() if type_ref else None
        for _ in range(16):
            if not name or name in _ANY:
                return None, allowed
            item = self.items.get(name)
            if item is None:
                short = name.split(":")[-1]
                if short in _BUILTIN:
                    return _BUILTIN[short], allowed
                raise _type_error(where, f"type {name!r} is not supported")
            if item.get("isCollection") == "true" or children(item, "itemComponent"):
                raise _type_error(where, f"{name!r} is a list or structure type")
            values = text_of(child(item, "allowedValues"))
            if values and values.strip():
                allowed.append(values)
            name = (text_of(item, "typeRef") or "").strip() or None
        raise _type_error(where, "its item definitions refer to each other in a cycle")


def _type_error(where: str, message: str) -> DmnError:
    message += (
        ": only number, string and boolean (not dates, times, durations, lists or structures)"
    )
    return DmnError(f"{where}: {message}", [Problem("RB604", where, message)])


def _spaced(name: str) -> str:
    return " ".join(name.split())


def slug(text: str) -> str:
    """A ruleset name (``[a-z0-9][a-z0-9-]{0,62}``) derived from a DMN decision name."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    name = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:63].strip("-")
    return name or "dmn-decision"


_PLAIN_NAME = re.compile(r"[^\W\d]\w*(?: \w+)*\Z")


class _Importer(TableReader):
    """Reads one ``<decision>`` into plain ruleset data, then parses and validates it."""

    def __init__(self, model: _Model, element: Element) -> None:
        super().__init__(element.get("name", "") or element.get("id", "") or "decision")
        self.model = model
        self.element = element

    def run(self) -> DmnImport:
        table = child(self.element, "decisionTable")
        if table is None:
            found = next(
                (local(c.tag) for c in self.element if local(str(c.tag)) in _EXPRESSIONS), None
            )
            raise self.error(
                "RB602",
                "decision",
                f"its logic is a <{found or 'missing'}>, not a <decisionTable>",
            )
        hit_policy, aggregation = self.policy(table)
        inputs = [self.input_column(n, e) for n, e in enumerate(children(table, "input"), 1)]
        outputs = self.output_columns(table)
        self.read_rules(table, inputs, outputs)
        data = self.document_data(hit_policy, aggregation)
        return DmnImport(
            document=self.finish(data),
            decision=self.name,
            inputs={c.dmn_name: c.name for c in self.inputs.values()},
            outputs={c.name: c.dmn_name for c in self.outputs},
        )

    def type_of(self, type_ref: str | None, where: str) -> tuple[str | None, list[str]]:
        """A column's ruleset type and allowedValues, or the model's type error, located."""
        try:
            return self.model.base_type(type_ref, where)
        except DmnError as exc:
            problem = exc.problems[0] if exc.problems else None
            raise self.error("RB604", where, problem.message if problem else str(exc)) from exc

    def policy(self, table: Element) -> tuple[str, str | None]:
        hit = " ".join((table.get("hitPolicy") or "UNIQUE").upper().replace("_", " ").split())
        if hit not in HIT_POLICIES:
            raise self.error("RB602", "hitPolicy", f"unknown hit policy {hit!r}")
        aggregation = table.get("aggregation")
        if aggregation is None:
            return hit, None
        aggregation = aggregation.strip().upper()
        if aggregation not in AGGREGATIONS or hit != "COLLECT":
            raise self.error(
                "RB602",
                "aggregation",
                f"aggregation {aggregation!r} needs COLLECT and one of {', '.join(AGGREGATIONS)}",
            )
        return hit, aggregation

    def input_column(self, number: int, element: Element) -> Column:
        expression = child(element, "inputExpression")
        text = _spaced(text_of(expression) or "")
        label = element.get("label") or text or f"input {number}"
        where = f"input {label!r}"
        if not text:
            raise self.error("RB602", where, "the input column has no input expression")
        known = text in self.model.input_types
        if text in self.model.decision_names and not known:
            raise self.error(
                "RB602",
                where,
                f"it reads decision {text!r}: only decision tables over input "
                "data can be imported, not chains of decisions",
            )
        if not known and not _PLAIN_NAME.match(text):
            raise self.error(
                "RB603",
                where,
                f"input expression {text!r} is a FEEL expression; only plain "
                "input names are supported",
            )
        type_ref = expression.get("typeRef") if expression is not None else None
        type_ref = type_ref or self.model.input_types.get(text)
        kind, allowed = self.type_of(type_ref, where)
        values = text_of(child(element, "inputValues"))
        constraints = [*allowed, *([values] if values and values.strip() else [])]
        return self.add_input(text, label, kind, constraints)

    def output_columns(self, table: Element) -> list[Column]:
        elements = children(table, "output")
        if not elements:
            raise self.error("RB602", "outputs", "the decision table has no output column")
        variable = child(self.element, "variable")
        single = len(elements) == 1
        components: dict[str, str | None] = {}
        if not single and variable is not None and variable.get("typeRef") in self.model.items:
            structure = self.model.items[variable.get("typeRef", "")]
            for part in children(structure, "itemComponent"):
                components[part.get("name", "")] = text_of(part, "typeRef")
        columns = []
        for number, element in enumerate(elements, 1):
            name = element.get("name")
            if single:
                var_name = variable.get("name") if variable is not None else None
                name = name or var_name or self.name
                fallback = table.get("typeRef") or (
                    variable.get("typeRef") if variable is not None else None
                )
            elif not name:
                raise self.error(
                    "RB602", f"output {number}", "output columns of a multi-output table need names"
                )
            else:
                fallback = components.get(name)
            where = f"output {name!r}"
            if element.get("typeRef"):
                kind, allowed = self.type_of(element.get("typeRef"), where)
            else:
                # The decision's type is only a hint (a list type under COLLECT, say): when it
                # does not resolve to a scalar, the column's literals tell the type.
                try:
                    kind, allowed = self.model.base_type(fallback, where)
                except DmnError:
                    kind, allowed = None, []
            columns.append(
                self.add_output(
                    name,
                    element.get("label"),
                    kind,
                    allowed,
                    text_of(child(element, "outputValues")),
                    text_of(child(element, "defaultOutputEntry")),
                )
            )
        return columns

    def document_data(self, hit_policy: str, aggregation: str | None) -> dict[str, Any]:
        title = self.element.get("label") or self.name
        name = slug(self.name)
        description = text_of(self.element, "description")
        self.check_defaults(aggregation)
        return {
            "name": name,
            "title": None if title == name else title,
            "description": description.strip() if description and description.strip() else None,
            "inputs": [c.input_data() for c in self.inputs.values()],
            "outputs": [c.output_data() for c in self.outputs],
            "hit_policy": hit_policy,
            "aggregation": aggregation,
            "rules": [self.rule_data(r, aggregation) for r in self.rules],
        }

    def finish(self, data: dict[str, Any]) -> Document:
        try:
            doc = parse_document(data)
        except DocumentError as exc:
            raise DmnError(
                f"cannot import decision {self.name!r}: it does not make a valid ruleset",
                [self.relocate(p) for p in exc.problems],
            ) from exc
        errors = [self.relocate(p) for p in validate_document(doc) if p.severity == "error"]
        if errors:
            raise DmnError(
                f"cannot import decision {self.name!r}: it does not make a valid ruleset", errors
            )
        return doc
