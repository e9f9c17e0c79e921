"""Parsing plain data into a :class:`~rules.core.document.model.Document` (DESIGN §2).

``parse_document(data)`` walks the data once, building the model and collecting every
structural problem with its location (``rules[3].when.all[1].op``) before raising a
:class:`~rules.errors.DocumentError` that lists them all. Semantic checks (types against the
schema, unknown inputs, protected inputs, overlaps ...) live in :mod:`rules.core.validate` and
:mod:`rules.core.check`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rules.core.document.model import (
    AGGREGATIONS,
    HIT_POLICIES,
    IDENTIFIER,
    MAX_DEPTH,
    MAX_INPUTS,
    MAX_OUTPUTS,
    MAX_RULES,
    OPS,
    RULE_ID,
    SLUG,
    TYPES,
    AllOf,
    AnyOf,
    Between,
    Condition,
    Document,
    Input,
    Leaf,
    Not,
    Output,
    Review,
    Rule,
    Scalar,
)
from rules.core.document.reader import Reader, kind_of
from rules.errors import DocumentError, Problem, suggest

__all__ = ["parse_document"]


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


class _Parser(Reader):
    """Walks a document's plain data, building the model part by part."""

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
            self.problem(key, f"expected a list, got {kind_of(value)}")
            return None
        if len(value) > limit:
            self.problem(key, f"at most {limit} {key} are allowed, got {len(value)}")
            return None
        return [parse(item, f"{key}[{i}]") for i, item in enumerate(value)]

    def hit_policy(self, doc: Mapping[str, Any]) -> str | None:
        value = doc.get("hit_policy", "UNIQUE")
        if not isinstance(value, str):
            self.problem("hit_policy", f"expected a string, got {kind_of(value)}")
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
            self.problem(f"{where}.{key}", f"expected a number, got {kind_of(value)}")
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
                self.problem(where, f"output names are strings, got {kind_of(key)}")
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
                self.problem(loc, f"expected a list of conditions, got {kind_of(items)}")
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
