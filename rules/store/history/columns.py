"""Matching a CSV header to a ruleset, and typing its cells.

Every column must be an input of the ruleset, the outcome column, the id column, or ignored on
purpose; each problem is named with a "did you mean". Cells are typed by their input's type:
booleans accept yes/no, true/false and 1/0 in any case; integers and numbers are decimal
literals (an integral ``3.0`` is an integer); an empty cell is a missing value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from rules.core.document import Document, Output, Scalar
from rules.errors import InvalidRequestError, Problem, suggest
from rules.store.decisions import check_outputs

__all__ = ["Column", "Plan", "parse_map", "plan_columns", "typed_cell"]

_INT = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_BOOLEANS = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}


def _boolean(text: str) -> Scalar:
    value = _BOOLEANS.get(text.lower())
    if value is None:
        raise ValueError(f"{text!r} is not a boolean: use yes/no, true/false or 1/0")
    return value


def _integer(text: str) -> Scalar:
    if _INT.fullmatch(text):
        return int(text)
    if _NUMBER.fullmatch(text):
        value = float(text)
        if math.isfinite(value) and value.is_integer():
            return int(value)
    raise ValueError(f"{text!r} is not an integer")


def _number(text: str) -> Scalar:
    if _INT.fullmatch(text):
        return int(text)
    if _NUMBER.fullmatch(text):
        value = float(text)
        if math.isfinite(value):
            return value
    raise ValueError(f"{text!r} is not a number")


def _string(text: str) -> Scalar:
    return text


PARSERS: dict[str, Callable[[str], Scalar]] = {
    "boolean": _boolean,
    "integer": _integer,
    "number": _number,
    "string": _string,
}


def typed_cell(kind: str, text: str) -> Scalar:
    """A non-empty cell's value for an input or output of type ``kind`` (ValueError if none)."""
    return PARSERS[kind](text)


def parse_map(text: str | None) -> dict[str, str] | None:
    """``yes=decline,no=approve`` as a dict; InvalidRequestError naming a malformed pair."""
    if text is None:
        return None
    mapping: dict[str, str] = {}
    for pair in text.split(","):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InvalidRequestError(
                "--map is not valid",
                [Problem("RB456", "--map", f"{pair!r} is not CSV_VALUE=OUTPUT_VALUE")],
            )
        mapping[key.strip()] = value.strip()
    return mapping


@dataclass(frozen=True, slots=True)
class Column:
    index: int
    header: str
    name: str
    parse: Callable[[str], Scalar]


@dataclass(frozen=True, slots=True)
class Plan:
    """Where each thing is in a row, and how to read it."""

    width: int
    inputs: tuple[Column, ...]
    outcome_index: int
    outcome_header: str
    id_index: int | None
    id_header: str | None
    output: Output
    mapping: dict[str, Scalar] | None


def _locate(header: Sequence[str], column: str, option: str, problems: list[Problem]) -> int | None:
    if column in header:
        return header.index(column)
    problems.append(
        Problem(
            "RB452",
            option,
            f"the file has no column {column!r}; its columns are {', '.join(header)}",
            suggest(column, header),
        )
    )
    return None


def _output(doc: Document, name: str | None, problems: list[Problem]) -> Output | None:
    if name is None and doc.review is None:
        problems.append(
            Problem("RB456", "--output", "the ruleset has no review output: name one with --output")
        )
        return None
    wanted = name if name is not None else doc.review.output if doc.review else ""
    found = doc.output(wanted)
    if found is None:
        names = [o.name for o in doc.outputs]
        problems.append(
            Problem(
                "RB456",
                "--output",
                f"{doc.name} has no output {wanted!r}; its outputs are {', '.join(names)}",
                suggest(wanted, names),
            )
        )
    return found


def _mapping(
    doc: Document, output: Output, mapping: Mapping[str, str], problems: list[Problem]
) -> dict[str, Scalar]:
    typed: dict[str, Scalar] = {}
    for key, text in mapping.items():
        try:
            value = typed_cell(output.type, text)
            check_outputs(doc, {output.name: value})
        except ValueError as exc:
            problems.append(Problem("RB456", f"--map {key}", str(exc)))
        except InvalidRequestError as exc:
            problems.extend(
                Problem(p.code, f"--map {key}", p.message, p.suggestion) for p in exc.problems
            )
        else:
            typed[key] = value
    return typed


def _input_columns(
    doc: Document, header: Sequence[str], special: Collection[str], problems: list[Problem]
) -> tuple[Column, ...]:
    names = [i.name for i in doc.inputs]
    columns = []
    for index, title in enumerate(header):
        if title in special:
            continue
        spec = doc.input(title)
        if spec is None:
            message = (
                f"{title!r} is not an input of {doc.name}; leave it out with "
                f"--ignore-column {title}"
            )
            problems.append(Problem("RB451", f"column {title}", message, suggest(title, names)))
            continue
        columns.append(Column(index, title, spec.name, PARSERS[spec.type]))
    present = {c.name for c in columns}
    for spec in doc.inputs:
        if spec.required and spec.name not in present:
            message = f"the required input {spec.name!r} has no column in the file"
            problems.append(Problem("RB452", f"input {spec.name}", message))
    return tuple(columns)


def _duplicates(header: Sequence[str], problems: list[Problem]) -> None:
    for index, title in enumerate(header):
        if title in header[:index]:
            first = header.index(title) + 1
            message = f"column {index + 1} repeats column {first}'s name"
            problems.append(Problem("RB451", f"column {title}", message))


def plan_columns(
    doc: Document,
    header: Sequence[str],
    *,
    outcome_column: str,
    id_column: str | None = None,
    output: str | None = None,
    mapping: Mapping[str, str] | None = None,
    ignore: Collection[str] = (),
) -> Plan:
    """Match the header to ``doc``; InvalidRequestError listing every problem at once."""
    problems: list[Problem] = []
    _duplicates(header, problems)
    outcome_index = _locate(header, outcome_column, "--outcome-column", problems)
    id_index = _locate(header, id_column, "--id-column", problems) if id_column else None
    for column in ignore:
        _locate(header, column, "--ignore-column", problems)
    special = {outcome_column, *([id_column] if id_column else []), *ignore}
    inputs = _input_columns(doc, header, special, problems)
    spec = _output(doc, output, problems)
    typed = _mapping(doc, spec, mapping, problems) if spec and mapping is not None else None
    if problems or outcome_index is None or spec is None:
        raise InvalidRequestError("the file's columns do not fit the ruleset", problems)
    return Plan(
        len(header),
        inputs,
        outcome_index,
        outcome_column,
        id_index,
        id_column,
        spec,
        typed,
    )
