"""Reading a CSV file's rows into decided, typed cases, or a list of located problems.

Rows are numbered as in a spreadsheet: the header is row 1, the first case row 2.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rules.core.document import Document, Scalar
from rules.core.engine import Engine
from rules.core.engine.hit_policies import Result
from rules.errors import FactsError, InvalidRequestError, Problem, suggest
from rules.store.history.columns import Plan, typed_cell

__all__ = ["MAX_PROBLEMS", "Row", "prepare_rows", "read_csv", "rejected"]

MAX_PROBLEMS = 20  # problems listed in full; the message counts the rest
MAX_REQUEST_ID = 200


@dataclass(slots=True)
class Row:
    """One case: its row number, case id, validated facts, decision and recorded outcome."""

    number: int
    request_id: str | None
    facts: dict[str, Scalar | None]
    result: Result
    outcome: Scalar | None


def read_csv(data: bytes) -> tuple[list[str], list[list[str]]]:
    """The header (stripped) and the other rows of a UTF-8 CSV file."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidRequestError(
            "the file is not UTF-8 text",
            [Problem("RB450", f"byte {exc.start}", "not valid UTF-8; save the file as UTF-8")],
        ) from exc
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InvalidRequestError(
            "the file is not valid CSV", [Problem("RB450", "file", str(exc))]
        ) from exc
    if not records or not any(cell.strip() for cell in records[0]):
        raise InvalidRequestError(
            "the file has no header",
            [Problem("RB450", "row 1", "the first row must name the columns")],
        )
    return [c.strip() for c in records[0]], records[1:]


def _outcome(plan: Plan, text: str, loc: str) -> tuple[Scalar | None, Problem | None]:
    text = text.strip()
    if not text:
        return None, None
    if plan.mapping is not None:
        if text in plan.mapping:
            return plan.mapping[text], None
        known = ", ".join(sorted(plan.mapping))
        message = f"{text!r} is not mapped to an outcome; --map maps {known}"
        return None, Problem("RB454", loc, message, suggest(text, plan.mapping))
    try:
        value = typed_cell(plan.output.type, text)
    except ValueError as exc:
        return None, Problem("RB454", loc, str(exc))
    allowed = plan.output.values
    if allowed is not None and value not in allowed:
        names = [str(v) for v in allowed]
        message = f"{text!r} is not one of {', '.join(names)}; translate it with --map"
        return None, Problem("RB454", loc, message, suggest(text, names))
    return value, None


def _facts(plan: Plan, cells: list[str], where: str) -> tuple[dict[str, Any], list[Problem]]:
    facts: dict[str, Any] = {}
    problems: list[Problem] = []
    for col in plan.inputs:
        text = cells[col.index].strip()
        if not text:
            continue
        try:
            facts[col.name] = col.parse(text)
        except ValueError as exc:
            problems.append(Problem("RB453", f"{where}, column {col.header}", str(exc)))
    return facts, problems


def _relocate(exc: FactsError, plan: Plan, where: str) -> list[Problem]:
    """The engine's ``facts.pirat`` problems, placed at ``row 17, column pirat``."""
    headers = {c.name: c.header for c in plan.inputs}
    located = []
    for p in exc.problems:
        name = p.location.removeprefix("facts.")
        message = p.message + (" (the cell is empty)" if p.code == "RB405" else "")
        column = headers.get(name, name)
        located.append(Problem(p.code, f"{where}, column {column}", message, p.suggestion))
    return located


def _case_id(plan: Plan, cells: list[str], where: str) -> tuple[str | None, Problem | None]:
    if plan.id_index is None:
        return None, None
    value = cells[plan.id_index].strip()
    if 1 <= len(value) <= MAX_REQUEST_ID:
        return value, None
    message = f"a case id has 1-{MAX_REQUEST_ID} characters"
    return None, Problem("RB455", f"{where}, column {plan.id_header}", message)


def _row(
    plan: Plan, cells: list[str], number: int, engine: Engine, doc: Document
) -> tuple[Row | None, list[Problem]]:
    where = f"row {number}"
    if len(cells) != plan.width:
        if not any(c.strip() for c in cells):
            return None, []  # a blank line
        message = f"{len(cells)} cells, but the header names {plan.width} columns"
        return None, [Problem("RB450", where, message)]
    facts, problems = _facts(plan, cells, where)
    outcome_loc = f"{where}, column {plan.outcome_header}"
    outcome, bad_outcome = _outcome(plan, cells[plan.outcome_index], outcome_loc)
    request_id, bad_id = _case_id(plan, cells, where)
    problems += [p for p in (bad_outcome, bad_id) if p is not None]
    try:
        clean, result = engine.decide(doc, facts)
    except FactsError as exc:
        reported = {p.location for p in problems}
        return None, problems + [
            p for p in _relocate(exc, plan, where) if p.location not in reported
        ]
    if problems:
        return None, problems
    return Row(number, request_id, clean, result, outcome), []


def rejected(problems: list[Problem], rows: int) -> InvalidRequestError:
    """The error that aborts an import: the first problems in full, and how many in all."""
    shown = problems[:MAX_PROBLEMS]
    listed = f"; the first {len(shown)} are listed" if len(problems) > len(shown) else ""
    return InvalidRequestError(
        f"{len(problems)} problem(s) in {rows} row(s){listed}; nothing was imported", shown
    )


def prepare_rows(
    plan: Plan, records: Sequence[list[str]], engine: Engine, doc: Document
) -> list[Row]:
    """Every row typed, validated and decided; InvalidRequestError if any row is wrong."""
    rows: list[Row] = []
    problems: list[Problem] = []
    bad = 0
    seen: dict[str, int] = {}
    for offset, cells in enumerate(records):
        row, found = _row(plan, cells, offset + 2, engine, doc)
        if row is not None and row.request_id is not None:
            first = seen.setdefault(row.request_id, row.number)
            if first != row.number:
                loc = f"row {row.number}, column {plan.id_header}"
                found = [Problem("RB455", loc, f"case id {row.request_id!r} repeats row {first}")]
        if found:
            bad += 1
            problems += found
        elif row is not None:
            rows.append(row)
    if problems:
        raise rejected(problems, bad)
    return rows
