"""The cells and rules of one DMN decision table, turned into plain ruleset data.

Cells are parsed first, column types are then taken from typeRefs or, failing that, from the
literals the column uses, and only then is every cell type-checked and translated. Every error
names its cell: rule number and DMN id, column, and the entry's text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rules.core.dmn.cells import condition_of, type_problem
from rules.core.dmn.columns import Column, derive_identifier
from rules.core.dmn.feel import Interval, UnaryTests, parse_literal
from rules.core.dmn.feel import parse_unary_tests as parse_cell
from rules.core.dmn.source import children, text_of
from rules.core.document import RULE_ID, Scalar
from rules.errors import DmnError, Problem

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

__all__ = ["Row", "TableReader"]


@dataclass(slots=True)
class Row:
    """One rule: its cells parsed, not yet translated."""

    number: int
    dmn_id: str
    id: str
    description: str | None
    cells: list[tuple[Column, str, UnaryTests | None]]
    entries: list[tuple[Column, str, Scalar | None]]


class TableReader:
    """Collects columns and rules, infers and checks types, and writes plain ruleset data."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.inputs: dict[str, Column] = {}
        self.outputs: list[Column] = []
        self.rules: list[Row] = []
        self._input_names: set[str] = set()
        self._output_names: set[str] = set()
        self._rule_ids: set[str] = set()

    def error(self, code: str, where: str, message: str) -> DmnError:
        return DmnError(
            f"cannot import decision {self.name!r}: {where}: {message}",
            [Problem(code, where, message)],
        )

    def cell_error(self, row: Row, column: Column, text: str, reason: str) -> DmnError:
        where = f"rule {row.number} (id {row.dmn_id!r}), {column.what}"
        return self.error("RB603", where, f"entry {text.strip()!r}: {reason}")

    # --- columns

    def add_input(self, dmn_name: str, label: str, kind: str | None, texts: list[str]) -> Column:
        column = self.inputs.get(dmn_name)
        if column is None:
            name = derive_identifier(dmn_name, self._input_names, "input")
            column = self.inputs[dmn_name] = Column(dmn_name, name, label, kind)
        elif kind is not None and column.kind not in (None, kind):
            raise self.error("RB604", column.what, f"it is read as {column.kind} and as {kind}")
        column.kind = column.kind or kind
        column.constraints.extend(texts)
        return column

    def add_output(
        self,
        dmn_name: str,
        label: str | None,
        kind: str | None,
        allowed: list[str],
        values: str | None,
        default: str | None,
    ) -> Column:
        name = derive_identifier(dmn_name, self._output_names, "output")
        column = Column(dmn_name, name, label or dmn_name, kind, allowed, values, default)
        column.is_output = True
        self.outputs.append(column)
        return column

    # --- rules

    def read_rules(self, table: Element, inputs: list[Column], outputs: list[Column]) -> None:
        for number, element in enumerate(children(table, "rule"), 1):
            self.rules.append(self.read_row(number, element, inputs, outputs))
        for column in self.inputs.values():
            self.settle_input(column)
        for column in outputs:
            self.settle_output(column)
        for row in self.rules:
            for column, text, cell in row.cells:
                problem = type_problem(cell, column.kind or "") if cell is not None else None
                if problem:
                    raise self.cell_error(row, column, text, problem)
            for column, text, value in row.entries:
                problem = column.output_problem(value)
                if problem:
                    raise self.cell_error(row, column, text, problem)

    def read_row(
        self, number: int, element: Element, inputs: list[Column], outputs: list[Column]
    ) -> Row:
        dmn_id = element.get("id") or ""
        base = re.sub(r"[^A-Za-z0-9_.-]+", "-", dmn_id).lstrip("_.-")[:128] or f"rule-{number}"
        rule_id, serial = base, 1
        while rule_id in self._rule_ids or not RULE_ID.match(rule_id):
            serial += 1
            rule_id = f"{base[:120]}-{serial}"
        self._rule_ids.add(rule_id)
        notes = [text_of(element, "description") or ""]
        notes += [text_of(a) or "" for a in children(element, "annotationEntry")]
        description = "; ".join(n.strip() for n in notes if n.strip()) or None
        row = Row(number, dmn_id or f"#{number}", rule_id, description, [], [])
        in_texts = [text_of(e) or "" for e in children(element, "inputEntry")]
        out_texts = [text_of(e) or "" for e in children(element, "outputEntry")]
        if len(in_texts) != len(inputs) or len(out_texts) != len(outputs):
            raise self.error(
                "RB602",
                f"rule {number} (id {row.dmn_id!r})",
                f"it has {len(in_texts)} input and {len(out_texts)} output entries; the table "
                f"has {len(inputs)} input and {len(outputs)} output columns",
            )
        for column, text in zip(inputs, in_texts, strict=True):
            try:
                row.cells.append((column, text, parse_cell(text)))
            except DmnError as exc:
                raise self.cell_error(row, column, text, str(exc.args[0])) from exc
        for column, text in zip(outputs, out_texts, strict=True):
            try:
                row.entries.append((column, text, parse_literal(text)))
            except DmnError as exc:
                raise self.cell_error(row, column, text, str(exc.args[0])) from exc
        return row

    def settle_input(self, column: Column) -> None:
        seen: list[Scalar | None] = []
        for row in self.rules:
            for col, _, cell in row.cells:
                for test in cell.tests if col is column and cell is not None else ():
                    if isinstance(test, Interval):
                        seen += [test.low, test.high]
                    else:
                        seen.append(getattr(test, "value", None))
        problem = column.settle_kind(seen)
        if problem:
            raise self.error("RB604", column.what, problem)
        for text in column.constraints:
            problem = column.constrain(text)
            if problem:
                raise self.error("RB603", f"{column.what} inputValues", problem)

    def settle_output(self, column: Column) -> None:
        problem = column.settle_values()
        if problem:
            raise self.error("RB603", f"{column.what} outputValues/default", problem)
        seen = [v for row in self.rules for col, _, v in row.entries if col is column]
        problem = column.settle_kind([*seen, *(column.values or ()), column.default])
        if problem:
            raise self.error("RB604", column.what, problem)
        for value in [*(column.values or ()), column.default]:
            problem = column.output_problem(value)
            if problem:
                raise self.error("RB604", f"{column.what} outputValues/default", problem)

    # --- output

    def check_defaults(self, aggregation: str | None) -> None:
        """Refuse default combinations the ruleset would answer differently from DMN."""
        with_default = [c for c in self.outputs if c.default is not None]
        if with_default and len(with_default) < len(self.outputs):
            raise self.error(
                "RB605",
                "defaultOutputEntry",
                "only some outputs have a default: DMN then answers a partial result, which a "
                "ruleset cannot; give every output a default or none",
            )
        if aggregation == "COUNT":
            self.check_count()
        if with_default and aggregation == "COUNT":
            raise self.error(
                "RB605",
                "defaultOutputEntry",
                "COLLECT COUNT answers 0 when nothing matches; a default output entry cannot apply",
            )

    def check_count(self) -> None:
        """Refuse COLLECT COUNT over equal outputs: DMN engines count distinct outputs."""
        first: dict[tuple[bool, Scalar | None], Row] = {}
        for row in self.rules:
            column, text, value = row.entries[0]
            earlier = first.setdefault((isinstance(value, bool), value), row)
            if earlier is not row:
                raise self.cell_error(
                    row,
                    column,
                    text,
                    f"rule {earlier.number} has the same output; under COLLECT COUNT DMN counts "
                    "distinct outputs, the ruleset counts matching rules: give each rule its "
                    "own output value",
                )

    def rule_data(self, row: Row, aggregation: str | None) -> dict[str, Any]:
        """One rule as plain ruleset data."""
        conditions = [
            condition_of(cell, column.name, column.kind or "")
            for column, _, cell in row.cells
            if cell is not None
        ]
        then: dict[str, Scalar | None] = {}
        for column, text, value in row.entries:
            if value is None and aggregation in ("SUM", "MIN", "MAX"):
                raise self.cell_error(
                    row,
                    column,
                    text,
                    f"a null output under COLLECT {aggregation} makes DMN's "
                    "result null; give the rule a value",
                )
            then[column.name] = value
        data: dict[str, Any] = {"id": row.id, "description": row.description, "then": then}
        if len(conditions) == 1:
            data["when"] = conditions[0]
        elif conditions:
            data["when"] = {"all": conditions}
        return data

    def relocate(self, problem: Problem) -> Problem:
        """A document problem with its location in DMN terms (rule number and id, column)."""

        def rename(match: re.Match[str]) -> str:
            index = int(match.group(2))
            if match.group(1) == "rules" and index < len(self.rules):
                row = self.rules[index]
                return f"rule {row.number} (id {row.dmn_id!r})"
            columns = list(self.inputs.values()) if match.group(1) == "inputs" else self.outputs
            return columns[index].what if index < len(columns) else match.group(0)

        location = re.sub(r"^(rules|inputs|outputs)\[(\d+)\]", rename, problem.location)
        return Problem(
            problem.code, location, problem.message, problem.suggestion, problem.severity
        )
