"""Typed tool-argument schemas: one definition gives both the JSON Schema the model is sent
(:meth:`ToolSpec.openai`) and the gateway's own check of what comes back (:meth:`ToolSpec.read`):
an object, no unexpected field, every required field, each of its declared type and bounds.
Integers reject booleans and floats; a problem names the argument (``arguments.page``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from proposer.operations import OPERATIONS
from rules.errors import Problem, suggest

__all__ = ["KINDS", "Param", "ToolSpec"]

SCALAR_TYPES = ("string", "number", "boolean")

KINDS: dict[str, dict[str, Any]] = {
    "integer": {"type": "integer"},
    "string": {"type": "string"},
    "boolean": {"type": "boolean"},
    "scalar": {"type": list(SCALAR_TYPES)},
    "choice": {"type": "string"},
    "integers": {"type": "array", "items": {"type": "integer", "minimum": 1}},
    "operations": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "op": {"type": "string", "enum": list(OPERATIONS)},
                "position": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "the rule's 0-based index once the operation is applied",
                },
                "rule_id": {"type": "string", "description": "the rule to update/remove/move"},
                "rule": {
                    "type": "object",
                    "description": "a rule in the ruleset document's own format: "
                    "{id, description?, when?, then}",
                },
            },
            "required": ["op"],
            "additionalProperties": False,
        },
    },
}


@dataclass(frozen=True, slots=True)
class Param:
    """One argument: its kind (a key of ``KINDS``), and bounds: an integer's range, a
    string's length, a list's number of items."""

    name: str
    kind: str
    description: str
    required: bool = False
    low: int | None = None
    high: int | None = None
    choices: tuple[str, ...] = ()

    def json_schema(self) -> dict[str, Any]:
        schema = {**KINDS[self.kind], "description": self.description}
        bounds = {
            "integer": ("minimum", "maximum"),
            "string": ("minLength", "maxLength"),
            "integers": ("minItems", "maxItems"),
            "operations": ("minItems", "maxItems"),
        }.get(self.kind)
        if bounds is not None:
            for key, value in zip(bounds, (self.low, self.high), strict=True):
                if value is not None:
                    schema[key] = value
        if self.choices:
            schema["enum"] = list(self.choices)
        return schema

    def check(self, value: object, where: str) -> Problem | None:
        """What is wrong with ``value`` for this argument, if anything."""
        kind, problem = self.kind, None
        if kind == "integer":
            problem = _integer(value, self.low, self.high)
        elif kind in ("string", "choice"):
            problem = _string(value, self.low, self.high, self.choices)
        elif kind == "boolean" and not isinstance(value, bool):
            problem = "expected true or false"
        elif kind == "scalar" and (
            isinstance(value, list | dict) or value is None or not _json_scalar(value)
        ):
            problem = "expected a string, a number or a boolean"
        elif kind in ("integers", "operations"):
            problem = _items(value, kind, self.low, self.high)
        if problem is None:
            return None
        return Problem("RB953", where, f"{self.name}: {problem}, got {_show(value)}")


def _json_scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool)


MAX_ID = 2**63 - 1  # the largest id a database column holds (BIGINT)
MAX_NAME = 200  # characters of a name the model sent that are quoted back


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _integer(value: object, low: int | None, high: int | None) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return "expected an integer"
    high = MAX_ID if high is None else min(high, MAX_ID)
    if (low is not None and value < low) or (high is not None and value > high):
        return f"expected an integer from {low} to {high}"
    return None


def _string(
    value: object, low: int | None, high: int | None, choices: tuple[str, ...]
) -> str | None:
    if not isinstance(value, str):
        return "expected a string"
    if choices and value not in choices:
        hint = suggest(value, choices)
        return f"expected one of {', '.join(choices)}" + (
            f" (did you mean {hint!r}?)" if hint else ""
        )
    if len(value) < (low or 0) or (high is not None and len(value) > high):
        return f"expected {low or 0} to {high} characters"
    return None


def _items(value: object, kind: str, low: int | None, high: int | None) -> str | None:
    if not isinstance(value, list):
        return "expected a list"
    if len(value) < (low or 0) or (high is not None and len(value) > high):
        return f"expected {low or 0} to {high} items"
    for i, item in enumerate(value):
        if kind == "integers" and (
            isinstance(item, bool) or not isinstance(item, int) or not 1 <= item <= MAX_ID
        ):
            return f"item {i} is not a decision id (an integer from 1 to {MAX_ID})"
        if kind == "operations" and not isinstance(item, Mapping):
            return f"item {i} is not an operation (an object)"
    return None


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool: its name, what it does (for the model), its arguments, and whether it writes."""

    name: str
    description: str
    params: tuple[Param, ...]
    writes: bool = False

    def openai(self) -> dict[str, Any]:
        """The tool in OpenAI's ``tools=[...]`` format."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": {
                    "type": "object",
                    "properties": {p.name: p.json_schema() for p in self.params},
                    "required": [p.name for p in self.params if p.required],
                    "additionalProperties": False,
                },
            },
        }

    def read(self, arguments: object) -> tuple[dict[str, Any], list[Problem]]:
        """The arguments checked against the schema: (values, problems)."""
        if not isinstance(arguments, Mapping):
            kind = "a list" if isinstance(arguments, list) else type(arguments).__name__
            return {}, [Problem("RB952", "arguments", f"expected a JSON object, got {kind}")]
        names = [p.name for p in self.params]
        problems = [
            Problem(
                "RB953",
                f"arguments.{str(key)[:MAX_NAME]}",
                f"unexpected argument {str(key)[:MAX_NAME]!r} for {self.name}; its arguments "
                f"are {', '.join(names) or 'none'}",
                suggest(str(key)[:MAX_NAME], names),
            )
            for key in arguments
            if key not in names
        ]
        for param in self.params:
            where = f"arguments.{param.name}"
            if param.name not in arguments:
                if param.required:
                    problems.append(Problem("RB953", where, f"{self.name} needs {param.name!r}"))
                continue
            problem = param.check(arguments[param.name], where)
            if problem is not None:
                problems.append(problem)
        return dict(arguments), problems
