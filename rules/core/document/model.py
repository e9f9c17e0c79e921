"""The ruleset document's model: typed, immutable, with its normalised plain form and hash
(DESIGN §2).

A :class:`Document` is built only by :func:`rules.core.document.parse_document`, which checks
its structure. Its plain form (:meth:`Document.to_dict`) makes every default explicit and
omits unset fields; the version hash is the SHA-256 of that form's canonical JSON
(:mod:`rules.core.document.canonical`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from rules.core.document.canonical import MAX_EXACT_INT, canonical_json

__all__ = [
    "AGGREGATIONS",
    "HIT_POLICIES",
    "IDENTIFIER",
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "MAX_EXACT_INT",
    "MAX_INPUTS",
    "MAX_LIST",
    "MAX_OUTPUTS",
    "MAX_RULES",
    "MULTI_HIT_POLICIES",
    "OPS",
    "RULE_ID",
    "SINGLE_HIT_POLICIES",
    "SLUG",
    "TYPES",
    "AllOf",
    "AnyOf",
    "Between",
    "Condition",
    "Document",
    "Input",
    "Leaf",
    "Not",
    "Output",
    "Review",
    "Rule",
    "Scalar",
    "condition_to_dict",
]

Scalar: TypeAlias = str | int | float | bool

TYPES = ("number", "integer", "string", "boolean")
HIT_POLICIES = ("UNIQUE", "ANY", "PRIORITY", "FIRST", "RULE ORDER", "OUTPUT ORDER", "COLLECT")
SINGLE_HIT_POLICIES = ("UNIQUE", "ANY", "PRIORITY", "FIRST")
MULTI_HIT_POLICIES = ("RULE ORDER", "OUTPUT ORDER", "COLLECT")
AGGREGATIONS = ("SUM", "COUNT", "MIN", "MAX")
OPS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "between", "is_null", "not_null")

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}\Z")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
RULE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")

MAX_RULES = 4000
MAX_INPUTS = 200
MAX_OUTPUTS = 50
MAX_DEPTH = 12
MAX_LIST = 1000
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Between:
    low: Scalar
    high: Scalar
    low_inclusive: bool = True
    high_inclusive: bool = True


@dataclass(frozen=True, slots=True)
class Leaf:
    input: str
    op: str
    value: Scalar | tuple[Scalar, ...] | Between | None = None


@dataclass(frozen=True, slots=True)
class AllOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Condition


Condition: TypeAlias = Leaf | AllOf | AnyOf | Not


@dataclass(frozen=True, slots=True)
class Input:
    name: str
    type: str
    required: bool = True
    min: int | float | None = None
    max: int | float | None = None
    values: tuple[Scalar, ...] | None = None
    protected: bool = False
    pii: bool = False
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Output:
    name: str
    type: str
    values: tuple[Scalar, ...] | None = None
    default: Scalar | None = None
    description: str | None = None

    @property
    def has_default(self) -> bool:
        return self.default is not None


@dataclass(frozen=True, slots=True)
class Review:
    output: str
    values: tuple[Scalar, ...]


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    when: Condition | None
    then: tuple[tuple[str, Scalar | None], ...]
    description: str | None = None

    @property
    def then_dict(self) -> dict[str, Scalar | None]:
        return dict(self.then)


@dataclass(frozen=True, slots=True)
class Document:
    name: str
    inputs: tuple[Input, ...]
    outputs: tuple[Output, ...]
    hit_policy: str
    rules: tuple[Rule, ...]
    aggregation: str | None = None
    review: Review | None = None
    title: str | None = None
    description: str | None = None
    _by_input: dict[str, Input] = field(init=False, repr=False, compare=False, hash=False)
    _by_output: dict[str, Output] = field(init=False, repr=False, compare=False, hash=False)
    _digest: str | None = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_input", {i.name: i for i in self.inputs})
        object.__setattr__(self, "_by_output", {o.name: o for o in self.outputs})
        object.__setattr__(self, "_digest", None)

    def input(self, name: str) -> Input | None:
        return self._by_input.get(name)

    def output(self, name: str) -> Output | None:
        return self._by_output.get(name)

    @property
    def multi_hit(self) -> bool:
        return self.hit_policy in MULTI_HIT_POLICIES

    def to_dict(self) -> dict[str, Any]:
        """The normalised document as plain data (defaults explicit, None fields omitted)."""
        return _document_to_dict(self)

    def canonical_json(self) -> bytes:
        return canonical_json(self.to_dict())

    @property
    def hash(self) -> str:
        """SHA-256 of the canonical form of the normalised document (computed once: the engine
        looks its compiled version up by hash on every decision)."""
        if self._digest is None:
            object.__setattr__(self, "_digest", hashlib.sha256(self.canonical_json()).hexdigest())
        return str(self._digest)


# --------------------------------------------------------------------------- plain form


def condition_to_dict(cond: Condition) -> dict[str, Any]:
    if isinstance(cond, AllOf):
        return {"all": [condition_to_dict(c) for c in cond.items]}
    if isinstance(cond, AnyOf):
        return {"any": [condition_to_dict(c) for c in cond.items]}
    if isinstance(cond, Not):
        return {"not": condition_to_dict(cond.item)}
    out: dict[str, Any] = {"input": cond.input, "op": cond.op}
    if isinstance(cond.value, Between):
        b = cond.value
        out["value"] = {
            "low": b.low,
            "high": b.high,
            "low_inclusive": b.low_inclusive,
            "high_inclusive": b.high_inclusive,
        }
    elif isinstance(cond.value, tuple):
        out["value"] = list(cond.value)
    elif cond.op not in ("is_null", "not_null"):
        out["value"] = cond.value
    return out


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _document_to_dict(doc: Document) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": doc.name,
        "title": doc.title,
        "description": doc.description,
        "inputs": [
            _drop_none(
                {
                    "name": i.name,
                    "type": i.type,
                    "description": i.description,
                    "required": i.required,
                    "min": i.min,
                    "max": i.max,
                    "values": list(i.values) if i.values is not None else None,
                    "protected": i.protected,
                    "pii": i.pii,
                }
            )
            for i in doc.inputs
        ],
        "outputs": [
            _drop_none(
                {
                    "name": o.name,
                    "type": o.type,
                    "description": o.description,
                    "values": list(o.values) if o.values is not None else None,
                    "default": o.default,
                }
            )
            for o in doc.outputs
        ],
        "hit_policy": doc.hit_policy,
        "aggregation": doc.aggregation,
        "review": (
            {"output": doc.review.output, "values": list(doc.review.values)} if doc.review else None
        ),
        "rules": [
            _drop_none(
                {
                    "id": r.id,
                    "description": r.description,
                    "when": condition_to_dict(r.when) if r.when is not None else None,
                    "then": dict(r.then),
                }
            )
            for r in doc.rules
        ],
    }
    return _drop_none(out)
