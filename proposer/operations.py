"""Typed change operations: the only way a proposal changes a ruleset (DESIGN §5).

A proposal is a list of operations applied in order to one base version's rules
(:func:`proposer.candidate.apply`). Each has a stable JSON form::

    {"op": "add_rule", "position": 2, "rule": {"id": ..., "when": ..., "then": ...}}
    {"op": "update_rule", "rule_id": "approve-clean", "rule": {"when": ..., "then": ...}}
    {"op": "remove_rule", "rule_id": "approve-clean"}
    {"op": "move_rule", "rule_id": "approve-clean", "position": 0}

``rule`` is written in the ruleset document's own rule format and read by the document's own
parser (:func:`rules.core.document.parse_document`). ``position`` is the rule's 0-based index in the
rule list right after the operation: 0 puts it first; ``len(rules)`` appends an added rule.
``update_rule`` replaces a rule's ``when``, ``then`` and ``description``; its id stays (the
``rule``'s ``id`` may be omitted; if given it must equal ``rule_id``).

Operations arrive from untrusted authors (an LLM among them), so reading is strict: unknown
``op`` values and unknown fields are errors with a "did you mean", and every problem names
its place, e.g. ``operations[2].rule.when.all[0].op``.

======  ======================================================================
code    problem
======  ======================================================================
RB910   an operation is malformed (not a mapping, unknown op or field, wrong type)
RB911   no rule with the given id at that point
RB912   a rule id that is already used
RB913   a position out of range
RB914   the operations leave the ruleset without rules
RB915   the candidate changes more than rules (a proposal changes rules only)
RB916   an update names a different id in its rule
======  ======================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar, TypeAlias, TypeVar

from proposer.errors import OperationError
from rules.core.document import MAX_RULES, Document, Rule, parse_document
from rules.errors import DocumentError, Problem, suggest

__all__ = [
    "MAX_OPERATIONS",
    "OPERATIONS",
    "AddRule",
    "MoveRule",
    "Operation",
    "RemoveRule",
    "UpdateRule",
    "parse_operation",
    "parse_operations",
    "relocate",
    "rule_to_dict",
]

OPERATIONS = ("add_rule", "update_rule", "remove_rule", "move_rule")
MAX_OPERATIONS = 2 * MAX_RULES  # enough to remove every rule and add as many
MAX_RULE_ID = 128


@dataclass(frozen=True, slots=True)
class AddRule:
    """Insert ``rule`` (a new id) so that it ends up at index ``position``."""

    rule: Rule
    position: int
    op: ClassVar[str] = "add_rule"

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "position": self.position, "rule": rule_to_dict(self.rule)}

    @classmethod
    def from_dict(cls, data: object, location: str = "operation") -> AddRule:
        return _expect(cls, data, location)


@dataclass(frozen=True, slots=True)
class UpdateRule:
    """Replace the ``when``, ``then`` and ``description`` of rule ``rule_id`` by ``rule``'s."""

    rule_id: str
    rule: Rule
    op: ClassVar[str] = "update_rule"

    def __post_init__(self) -> None:
        if self.rule.id != self.rule_id:
            raise OperationError(
                f"update_rule keeps the rule's id: the rule is {self.rule.id!r}, "
                f"not {self.rule_id!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "rule_id": self.rule_id, "rule": rule_to_dict(self.rule)}

    @classmethod
    def from_dict(cls, data: object, location: str = "operation") -> UpdateRule:
        return _expect(cls, data, location)


@dataclass(frozen=True, slots=True)
class RemoveRule:
    """Delete rule ``rule_id``."""

    rule_id: str
    op: ClassVar[str] = "remove_rule"

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "rule_id": self.rule_id}

    @classmethod
    def from_dict(cls, data: object, location: str = "operation") -> RemoveRule:
        return _expect(cls, data, location)


@dataclass(frozen=True, slots=True)
class MoveRule:
    """Move rule ``rule_id`` so that it ends up at index ``position``."""

    rule_id: str
    position: int
    op: ClassVar[str] = "move_rule"

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "rule_id": self.rule_id, "position": self.position}

    @classmethod
    def from_dict(cls, data: object, location: str = "operation") -> MoveRule:
        return _expect(cls, data, location)


Operation: TypeAlias = AddRule | UpdateRule | RemoveRule | MoveRule
_Op = TypeVar("_Op", AddRule, UpdateRule, RemoveRule, MoveRule)

_FIELDS: dict[str, tuple[str, ...]] = {
    "add_rule": ("op", "rule", "position"),
    "update_rule": ("op", "rule_id", "rule"),
    "remove_rule": ("op", "rule_id"),
    "move_rule": ("op", "rule_id", "position"),
}
# A document that parses, so that the only problems parsing it reports are the rule's.
_SKELETON: dict[str, Any] = {
    "name": "operation",
    "inputs": [],
    "outputs": [{"name": "outcome", "type": "string"}],
    "hit_policy": "FIRST",
}
_EMPTY = Document(name="operation", inputs=(), outputs=(), hit_policy="FIRST", rules=())


def rule_to_dict(rule: Rule) -> dict[str, Any]:
    """A rule in the document's own format, written by the document's own serialiser."""
    rules: list[dict[str, Any]] = replace(_EMPTY, rules=(rule,)).to_dict()["rules"]
    return rules[0]


def relocate(problem: Problem, old: str, new: str) -> Problem:
    """``problem`` with the location prefix ``old`` (e.g. ``rules[0]``) replaced by ``new``."""
    loc = problem.location
    if loc == old or loc.startswith((f"{old}.", f"{old}[")):
        return replace(problem, location=new + loc[len(old) :])
    return problem


def parse_operations(data: object, location: str = "operations") -> tuple[Operation, ...]:
    """Read an untrusted list of operations, or raise OperationError listing every problem."""
    if not isinstance(data, list | tuple):
        problem = _malformed(location, f"expected a list of operations, got {_kind(data)}")
        raise OperationError("the operations are malformed", [problem])
    if len(data) > MAX_OPERATIONS:
        problem = _malformed(location, f"at most {MAX_OPERATIONS} operations, got {len(data)}")
        raise OperationError("the operations are malformed", [problem])
    problems: list[Problem] = []
    found: list[Operation] = []
    for i, item in enumerate(data):
        op = _read(item, f"{location}[{i}]", problems)
        if op is not None:
            found.append(op)
    if problems:
        raise OperationError("the operations have errors", problems)
    return tuple(found)


def parse_operation(data: object, location: str = "operation") -> Operation:
    """Read one untrusted operation, or raise OperationError listing every problem."""
    problems: list[Problem] = []
    op = _read(data, location, problems)
    if problems or op is None:
        raise OperationError("the operation has errors", problems)
    return op


def _expect(cls: type[_Op], data: object, location: str) -> _Op:
    op = parse_operation(data, location)
    if not isinstance(op, cls):
        problem = _malformed(f"{location}.op", f"expected op {cls.op!r}, got {op.op!r}")
        raise OperationError("the operation has errors", [problem])
    return op


def _malformed(location: str, message: str, suggestion: str | None = None) -> Problem:
    return Problem("RB910", location, message, suggestion)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    kinds: tuple[tuple[Any, str], ...] = (
        (bool, "a boolean"),
        (int | float, "a number"),
        (str, "a string"),
        (Mapping, "a mapping"),
        (list | tuple, "a list"),
    )
    return next((name for t, name in kinds if isinstance(value, t)), type(value).__name__)


def _read(data: object, where: str, problems: list[Problem]) -> Operation | None:
    if not isinstance(data, Mapping):
        problems.append(_malformed(where, f"expected an operation (a mapping), got {_kind(data)}"))
        return None
    name = data.get("op")
    if name not in OPERATIONS:
        message = (
            f"unknown op {name!r}; one of {', '.join(OPERATIONS)}"
            if "op" in data
            else f"'op' is required: one of {', '.join(OPERATIONS)}"
        )
        problems.append(_malformed(f"{where}.op", message, suggest(str(name), OPERATIONS)))
        return None
    before = len(problems)
    fields = _FIELDS[name]
    for key in data:
        if key not in fields:
            problems.append(
                _malformed(
                    f"{where}.{key}",
                    f"unknown field {key!r} for {name!r}; allowed: {', '.join(fields)}",
                    suggest(str(key), fields),
                )
            )
    for key in fields:
        if key not in data:
            problems.append(_malformed(f"{where}.{key}", f"{name!r} needs {key!r}"))
    op = _build(name, data, where, problems)
    return op if len(problems) == before else None


def _build(
    name: str, data: Mapping[str, Any], where: str, problems: list[Problem]
) -> Operation | None:
    rule_id = _rule_id(data, where, problems) if "rule_id" in data else None
    position = _position(data, where, problems) if "position" in data else None
    rule = None
    if "rule" in data:
        update = name == "update_rule"
        rule = _rule(data["rule"], f"{where}.rule", rule_id if update else None, update, problems)
    if name == "add_rule" and rule is not None and position is not None:
        return AddRule(rule, position)
    if name == "update_rule" and rule is not None and rule_id is not None:
        return UpdateRule(rule_id, rule)
    if name == "remove_rule" and rule_id is not None:
        return RemoveRule(rule_id)
    if name == "move_rule" and rule_id is not None and position is not None:
        return MoveRule(rule_id, position)
    return None


def _rule_id(data: Mapping[str, Any], where: str, problems: list[Problem]) -> str | None:
    value = data["rule_id"]
    if not isinstance(value, str) or not value or len(value) > MAX_RULE_ID:
        problems.append(
            _malformed(
                f"{where}.rule_id",
                f"expected a rule id (a string of 1-{MAX_RULE_ID} characters), got {_kind(value)}",
            )
        )
        return None
    return value


def _position(data: Mapping[str, Any], where: str, problems: list[Problem]) -> int | None:
    value = data["position"]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        problems.append(
            _malformed(
                f"{where}.position",
                f"expected the rule's index after the operation (an integer from 0), got {value!r}",
            )
        )
        return None
    return int(value)


def _rule(
    data: object, where: str, keep_id: str | None, update: bool, problems: list[Problem]
) -> Rule | None:
    """Parse ``data`` with the document parser; an update's rule takes ``keep_id`` as its id
    (``None`` when the update's ``rule_id`` was itself wrong: then only the rule is checked)."""
    if update and isinstance(data, Mapping):
        if keep_id is None:
            keep_id = str(data.get("id") or "rule")
        elif data.get("id", keep_id) != keep_id:
            problems.append(
                Problem(
                    "RB916",
                    f"{where}.id",
                    f"update_rule keeps the rule's id {keep_id!r}; to rename a rule, remove it "
                    "and add the new one",
                    keep_id,
                )
            )
            return None
        data = {**data, "id": keep_id}
    try:
        doc = parse_document({**_SKELETON, "rules": [data]})
    except DocumentError as exc:
        problems.extend(relocate(p, "rules[0]", where) for p in exc.problems)
        return None
    return doc.rules[0]
