"""Request bodies checked against the OpenAPI description's own schemas (:mod:`rules.api.schemas`),
so that what the API accepts is exactly what its schema says.

:func:`schema_problems` turns JSON Schema (2020-12) errors into the API's problems, each
naming its field (``items[2].facts``) with the RB code and, for an unknown field, a "did you
mean": RB431 unknown field, RB432 missing, RB433 a wrong value.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, ValidationError

from rules.api.limits import show_key
from rules.api.schemas import SCHEMAS
from rules.errors import Problem, suggest

__all__ = ["kind", "schema_problems", "validator"]

KINDS = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
}


def _root(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}", "components": {"schemas": SCHEMAS}}


@cache
def validator(name: str) -> Draft202012Validator:
    """The validator of the component schema ``name`` (its ``$ref``s resolve in SCHEMAS)."""
    root = _root(name)
    Draft202012Validator.check_schema(root)
    return Draft202012Validator(root)


@cache
def _fast(name: str) -> Any:
    """The same schema compiled by jsonschema-rs: "valid?" in about a microsecond, where
    jsonschema takes a hundred or more (a decision's body is checked on every request)."""
    return jsonschema_rs.Draft202012Validator(_root(name))


def kind(value: object) -> str:
    """What a JSON value is, for a message: ``an object``, ``a string``..."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "a string" if isinstance(value, str) else "null"


def _location(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{show_key(part)}" if out else show_key(part)
    return out


def _join(where: str, key: str) -> str:
    return f"{where}.{show_key(key)}" if where else show_key(key)


def _types(value: object) -> str:
    names = [KINDS.get(str(t), str(t)) for t in (value if isinstance(value, list) else [value])]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _shown(value: object) -> str:
    if isinstance(value, dict | list):
        return kind(value)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _problems(error: ValidationError) -> list[Problem]:
    where = _location(error.absolute_path)
    rule, wanted, value = error.validator, error.validator_value, error.instance
    if rule == "additionalProperties" and wanted is False and isinstance(value, dict):
        allowed = list(error.schema.get("properties", {}))
        takes = where or "this request"
        return [
            Problem(
                "RB431",
                _join(where, key),
                f"unknown field; {takes} takes {', '.join(sorted(allowed))}",
                suggest(key, allowed),
            )
            for key in value
            if key not in allowed
        ]
    if rule == "required" and isinstance(value, dict):
        return [Problem("RB432", _join(where, k), "is required") for k in wanted if k not in value]
    messages = {
        "type": lambda: f"expected {_types(wanted)}, got {_shown(value)}",
        "minimum": lambda: f"must be at least {wanted}, got {_shown(value)}",
        "maximum": lambda: f"must be at most {wanted}, got {_shown(value)}",
        "minLength": lambda: f"must be at least {wanted} character(s) long",
        "maxLength": lambda: f"must be at most {wanted} characters long",
        "minItems": lambda: f"give at least {wanted} item(s)",
        "maxItems": lambda: f"give at most {wanted} items; split the rest into another request",
        "minProperties": lambda: f"give at least {wanted} field(s)",
    }
    message = messages[rule]() if rule in messages else error.message
    return [Problem("RB433", where, message)]


def schema_problems(body: Any, name: str) -> list[Problem]:
    """Everything in ``body`` that the schema ``name`` refuses, each naming its field."""
    if _fast(name).is_valid(body):
        return []
    problems: list[Problem] = []
    for error in validator(name).iter_errors(body):  # the reference: names each error
        problems += _problems(error)
    problems.sort(key=lambda p: (p.location, p.code))
    return problems
