"""The ruleset document: a typed, immutable model with a canonical form and hash (DESIGN §2).

``load_document(text)`` reads YAML or JSON; ``parse_document(data)`` turns plain data into a
:class:`Document`, collecting every structural problem with its location before raising a
:class:`~rules.errors.DocumentError`. Semantic checks (types against the schema, unknown
inputs, protected inputs, overlaps ...) live in :mod:`rules.core.validate` and
:mod:`rules.core.check`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import yaml

from rules.errors import DocumentError, Problem, suggest

__all__ = [
    "AGGREGATIONS",
    "HIT_POLICIES",
    "MULTI_HIT_POLICIES",
    "OPS",
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
    "canonical_json",
    "load_document",
    "parse_document",
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
# Integers beyond 2**53 are not exactly representable as doubles, which the engine compares.
MAX_EXACT_INT = 2**53


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


# --------------------------------------------------------------------------- canonical form


def _canonical_number(value: int | float) -> int | float:
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_EXACT_INT:
        return int(value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return _canonical_number(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    raise TypeError(f"not plain data: {value!r}")


def canonical_json(data: Any) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8; integral floats written as integers."""
    return json.dumps(
        _plain(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


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


# --------------------------------------------------------------------------- loading


class _Loader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys and reads YAML 1.2 floats such as ``1e-3``."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise DocumentError(
                "the document is not valid YAML",
                [
                    Problem(
                        "RB001",
                        f"line {mark.line + 1}, column {mark.column + 1}",
                        f"duplicate key {key!r}: each key may appear once in a mapping",
                    )
                ],
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_document(text: str | bytes) -> Document:
    """Read a ruleset document from YAML or JSON text and parse it."""
    if isinstance(text, bytes):
        if len(text) > MAX_DOCUMENT_BYTES:
            raise DocumentError(
                "the document is too large",
                [Problem("RB002", "", f"at most {MAX_DOCUMENT_BYTES} bytes are accepted")],
            )
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DocumentError(
                "the document is not UTF-8",
                [Problem("RB001", f"byte {exc.start}", "invalid UTF-8; save the file as UTF-8")],
            ) from exc
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise DocumentError(
            "the document is not valid YAML or JSON",
            [Problem("RB001", where, str(exc.problem or exc))],
        ) from exc
    except yaml.YAMLError as exc:
        raise DocumentError(
            "the document is not valid YAML or JSON", [Problem("RB001", "", str(exc))]
        ) from exc
    return parse_document(data)


# --------------------------------------------------------------------------- parsing


_DOC_KEYS = (
    "name",
    "title",
    "description",
    "inputs",
    "outputs",
    "hit_policy",
    "aggregation",
    "review",
    "rules",
)
_INPUT_KEYS = (
    "name",
    "type",
    "description",
    "required",
    "min",
    "max",
    "values",
    "protected",
    "pii",
)
_OUTPUT_KEYS = ("name", "type", "description", "values", "default")
_RULE_KEYS = ("id", "description", "when", "then")
_LEAF_KEYS = ("input", "op", "value")
_BETWEEN_KEYS = ("low", "high", "low_inclusive", "high_inclusive")


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def is_scalar(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | int | bool)


class _Parser:
    """Walks plain data, building the model and collecting problems with their locations."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def problem(self, location: str, message: str, suggestion: str | None = None) -> None:
        self.problems.append(Problem("RB002", location, message, suggestion))

    def keys(self, data: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
        for key in data:
            if key not in allowed:
                loc = f"{where}.{key}" if where else str(key)
                self.problem(
                    loc,
                    f"unknown field {key!r}; allowed: {', '.join(allowed)}",
                    suggest(str(key), allowed),
                )

    def mapping(self, data: object, where: str) -> Mapping[str, Any] | None:
        if not isinstance(data, Mapping):
            self.problem(where or "document", f"expected a mapping, got {_kind(data)}")
            return None
        return data

    def text(self, data: Mapping[str, Any], key: str, where: str, *, required: bool) -> str | None:
        loc = f"{where}.{key}" if where else key
        if key not in data or data[key] is None:
            if required:
                self.problem(loc, f"{key!r} is required")
            return None
        value = data[key]
        if not isinstance(value, str):
            self.problem(loc, f"expected a string, got {_kind(value)}")
            return None
        return value

    def flag(self, data: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
        if key not in data or data[key] is None:
            return default
        value = data[key]
        if not isinstance(value, bool):
            self.problem(f"{where}.{key}", f"expected true or false, got {_kind(value)}")
            return default
        return value

    def scalar(self, value: object, loc: str) -> Scalar | None:
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(loc, "numbers must be finite (no NaN or infinity)")
            return None
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_EXACT_INT:
            self.problem(loc, f"integers must lie within ±{MAX_EXACT_INT} (2**53)")
            return None
        if not is_scalar(value):
            self.problem(loc, f"expected a string, number or boolean, got {_kind(value)}")
            return None
        if isinstance(value, float):
            # One canonical form, one behaviour: 1.0 and 1 are the same version and must give
            # byte-identical results, so integral floats are read as integers.
            return _canonical_number(value)
        return value  # type: ignore[return-value]

    def scalar_list(self, value: object, loc: str) -> tuple[Scalar, ...] | None:
        if not isinstance(value, list | tuple):
            self.problem(loc, f"expected a list, got {_kind(value)}")
            return None
        if len(value) > MAX_LIST:
            self.problem(loc, f"at most {MAX_LIST} values are allowed in a list")
            return None
        items = [self.scalar(v, f"{loc}[{i}]") for i, v in enumerate(value)]
        if any(v is None for v in items):
            return None
        return tuple(v for v in items if v is not None)

    # --- document parts

    def document(self, data: object) -> Document | None:
        doc = self.mapping(data, "")
        if doc is None:
            return None
        self.keys(doc, _DOC_KEYS, "")
        name = self.text(doc, "name", "", required=True)
        if name is not None and not SLUG.match(name):
            self.problems.append(
                Problem(
                    "RB003",
                    "name",
                    f"{name!r} is not a slug: use 1-63 of a-z, 0-9 and '-', starting with a "
                    "letter or digit",
                )
            )
        inputs = self.items(doc, "inputs", self.input, MAX_INPUTS)
        outputs = self.items(doc, "outputs", self.output, MAX_OUTPUTS)
        if outputs is not None and not outputs and "outputs" in doc:
            self.problem("outputs", "at least one output is required")
        hit_policy = self.hit_policy(doc)
        aggregation = self.aggregation(doc)
        review = self.review(doc.get("review"))
        rules = self.items(doc, "rules", self.rule, MAX_RULES)
        if self.problems or None in (name, inputs, outputs, hit_policy, rules):
            return None
        return Document(
            name=name or "",
            title=self.text(doc, "title", "", required=False),
            description=self.text(doc, "description", "", required=False),
            inputs=tuple(inputs or ()),
            outputs=tuple(outputs or ()),
            hit_policy=hit_policy or "",
            aggregation=aggregation,
            review=review,
            rules=tuple(rules or ()),
        )

    def items(self, doc: Mapping[str, Any], key: str, parse: Any, limit: int) -> list[Any] | None:
        if key not in doc:
            self.problem(key, f"{key!r} is required (a list)")
            return None
        value = doc[key]
        if not isinstance(value, list):
            self.problem(key, f"expected a list, got {_kind(value)}")
            return None
        if len(value) > limit:
            self.problem(key, f"at most {limit} {key} are allowed, got {len(value)}")
            return None
        return [parse(item, f"{key}[{i}]") for i, item in enumerate(value)]

    def hit_policy(self, doc: Mapping[str, Any]) -> str | None:
        value = doc.get("hit_policy", "UNIQUE")
        if not isinstance(value, str):
            self.problem("hit_policy", f"expected a string, got {_kind(value)}")
            return None
        normal = value.strip().upper().replace("_", " ")
        if normal not in HIT_POLICIES:
            self.problem(
                "hit_policy",
                f"unknown hit policy {value!r}; one of {', '.join(HIT_POLICIES)}",
                suggest(normal, HIT_POLICIES),
            )
            return None
        return normal

    def aggregation(self, doc: Mapping[str, Any]) -> str | None:
        value = doc.get("aggregation")
        if value is None:
            return None
        if not isinstance(value, str) or value.upper() not in AGGREGATIONS:
            self.problem(
                "aggregation",
                f"unknown aggregation {value!r}; one of {', '.join(AGGREGATIONS)} or null",
                suggest(str(value).upper(), AGGREGATIONS),
            )
            return None
        return value.upper()

    def review(self, data: object) -> Review | None:
        if data is None:
            return None
        review = self.mapping(data, "review")
        if review is None:
            return None
        self.keys(review, ("output", "values"), "review")
        output = self.text(review, "output", "review", required=True)
        values = self.scalar_list(review.get("values", []), "review.values")
        if output is None or values is None:
            return None
        return Review(output=output, values=values)

    def typename(self, data: Mapping[str, Any], where: str) -> str | None:
        kind = self.text(data, "type", where, required=True)
        if kind is not None and kind not in TYPES:
            self.problem(
                f"{where}.type",
                f"unknown type {kind!r}; one of {', '.join(TYPES)}",
                suggest(kind, TYPES),
            )
            return None
        return kind

    def identifier(self, data: Mapping[str, Any], where: str) -> str | None:
        name = self.text(data, "name", where, required=True)
        if name is not None and not IDENTIFIER.match(name):
            self.problems.append(
                Problem(
                    "RB003",
                    f"{where}.name",
                    f"{name!r} is not an identifier: use letters, digits and '_', not starting "
                    "with a digit, at most 64 characters",
                )
            )
            return None
        return name

    def bound(self, data: Mapping[str, Any], key: str, where: str) -> int | float | None:
        if data.get(key) is None:
            return None
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(f"{where}.{key}", f"expected a number, got {_kind(value)}")
            return None
        return self.scalar(value, f"{where}.{key}")  # type: ignore[return-value]

    def input(self, data: object, where: str) -> Input | None:
        item = self.mapping(data, where)
        if item is None:
            return None
        self.keys(item, _INPUT_KEYS, where)
        name = self.identifier(item, where)
        kind = self.typename(item, where)
        values = None
        if item.get("values") is not None:
            values = self.scalar_list(item["values"], f"{where}.values")
        if name is None or kind is None:
            return None
        return Input(
            name=name,
            type=kind,
            required=self.flag(item, "required", where, True),
            min=self.bound(item, "min", where),
            max=self.bound(item, "max", where),
            values=values,
            protected=self.flag(item, "protected", where, False),
            pii=self.flag(item, "pii", where, False),
            description=self.text(item, "description", where, required=False),
        )

    def output(self, data: object, where: str) -> Output | None:
        item = self.mapping(data, where)
        if item is None:
            return None
        self.keys(item, _OUTPUT_KEYS, where)
        name = self.identifier(item, where)
        kind = self.typename(item, where)
        values = None
        if item.get("values") is not None:
            values = self.scalar_list(item["values"], f"{where}.values")
        default = None
        if item.get("default") is not None:
            default = self.scalar(item["default"], f"{where}.default")
        if name is None or kind is None:
            return None
        return Output(
            name=name,
            type=kind,
            values=values,
            default=default,
            description=self.text(item, "description", where, required=False),
        )

    def rule(self, data: object, where: str) -> Rule | None:
        item = self.mapping(data, where)
        if item is None:
            return None
        self.keys(item, _RULE_KEYS, where)
        rule_id = item.get("id")
        if isinstance(rule_id, int) and not isinstance(rule_id, bool):
            rule_id = str(rule_id)
        if rule_id is None:
            self.problem(f"{where}.id", "'id' is required")
        elif not isinstance(rule_id, str) or not RULE_ID.match(rule_id):
            self.problems.append(
                Problem(
                    "RB003",
                    f"{where}.id",
                    f"{rule_id!r} is not a rule id: use 1-128 of letters, digits, '_', '.' and "
                    "'-', starting with a letter or digit",
                )
            )
            rule_id = None
        when = None
        if item.get("when") is not None:
            when = self.condition(item["when"], f"{where}.when", 0)
        then = self.then(item.get("then", {}), f"{where}.then")
        if rule_id is None or then is None or (item.get("when") is not None and when is None):
            return None
        return Rule(
            id=rule_id,
            when=when,
            then=then,
            description=self.text(item, "description", where, required=False),
        )

    def then(self, data: object, where: str) -> tuple[tuple[str, Scalar | None], ...] | None:
        then = self.mapping(data, where)
        if then is None:
            return None
        pairs: list[tuple[str, Scalar | None]] = []
        for key, value in then.items():
            if not isinstance(key, str):
                self.problem(where, f"output names are strings, got {_kind(key)}")
                continue
            if value is None:
                pairs.append((key, None))
                continue
            scalar = self.scalar(value, f"{where}.{key}")
            if scalar is not None:
                pairs.append((key, scalar))
        return tuple(pairs)

    def condition(self, data: object, where: str, depth: int) -> Condition | None:
        if depth > MAX_DEPTH:
            self.problem(where, f"conditions may nest at most {MAX_DEPTH} levels deep")
            return None
        cond = self.mapping(data, where)
        if cond is None:
            return None
        groups = [k for k in ("all", "any", "not") if k in cond]
        if groups:
            if len(cond) != 1:
                self.problem(
                    where,
                    f"a {groups[0]!r} condition has exactly one key; found "
                    f"{', '.join(map(str, cond))}",
                )
                return None
            key = groups[0]
            loc = f"{where}.{key}"
            if key == "not":
                inner = self.condition(cond["not"], loc, depth + 1)
                return Not(inner) if inner is not None else None
            items = cond[key]
            if not isinstance(items, list):
                self.problem(loc, f"expected a list of conditions, got {_kind(items)}")
                return None
            parsed = [self.condition(c, f"{loc}[{i}]", depth + 1) for i, c in enumerate(items)]
            if any(c is None for c in parsed):
                return None
            members = tuple(c for c in parsed if c is not None)
            return AllOf(members) if key == "all" else AnyOf(members)
        return self.leaf(cond, where)

    def leaf(self, cond: Mapping[str, Any], where: str) -> Leaf | None:
        self.keys(cond, (*_LEAF_KEYS, "all", "any", "not"), where)
        name = cond.get("input")
        op = cond.get("op")
        if not isinstance(name, str):
            self.problem(f"{where}.input", "a condition needs 'input' (an input name)")
            return None
        if op is None:
            self.problem(f"{where}.op", f"a condition needs 'op', one of {', '.join(OPS)}")
            return None
        if not isinstance(op, str) or op not in OPS:
            self.problem(
                f"{where}.op",
                f"unknown operator {op!r}; one of {', '.join(OPS)}",
                suggest(str(op), OPS),
            )
            return None
        loc = f"{where}.value"
        if op in ("is_null", "not_null"):
            if cond.get("value") is not None:
                self.problem(loc, f"{op!r} takes no value")
                return None
            return Leaf(name, op, None)
        if "value" not in cond:
            self.problem(loc, f"{op!r} needs a value")
            return None
        value = cond["value"]
        if op in ("in", "not_in"):
            values = self.scalar_list(value, loc)
            return Leaf(name, op, values) if values is not None else None
        if op == "between":
            between = self.between(value, loc)
            return Leaf(name, op, between) if between is not None else None
        if value is None:
            self.problem(loc, f"{op!r} compares with a value; to test for null use 'is_null'")
            return None
        scalar = self.scalar(value, loc)
        return Leaf(name, op, scalar) if scalar is not None else None

    def between(self, value: object, loc: str) -> Between | None:
        data = self.mapping(value, loc)
        if data is None:
            return None
        self.keys(data, _BETWEEN_KEYS, loc)
        if "low" not in data or "high" not in data:
            self.problem(loc, "'between' needs {low, high} (and optional *_inclusive flags)")
            return None
        low = self.scalar(data["low"], f"{loc}.low")
        high = self.scalar(data["high"], f"{loc}.high")
        if low is None or high is None:
            return None
        return Between(
            low,
            high,
            self.flag(data, "low_inclusive", loc, True),
            self.flag(data, "high_inclusive", loc, True),
        )


def parse_document(data: object) -> Document:
    """Build a :class:`Document` from plain data, or raise DocumentError listing every problem."""
    parser = _Parser()
    doc = parser.document(data)
    if parser.problems or doc is None:
        raise DocumentError("the ruleset document has errors", parser.problems)
    return doc
