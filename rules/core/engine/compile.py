"""Compiling a ruleset document into a durable_rules ruleset that is safe to run.

durable_rules (a C Rete engine) has defects that would crash, loop or answer wrongly if fed a
document naively (see the field notes in the project docs). The compiler neutralises each one:

* **Names.** No caller string reaches the engine as a key: inputs become generated field names
  (``v0``, ``v1`` ...) checked for 32-bit FNV-1a hash collisions with each other and with the
  engine's own reserved names, since the engine identifies fields by that hash alone.
* **Values.** The engine only ever sees finite doubles, written so its JSON parser accepts them
  (it rejects ``1e-07``). Strings are replaced by order-preserving integer codes computed from
  the constants the rules use, so the engine's coercions (``"4" == 4``) never apply.
  Booleans are 0/1.
* **Three-valued logic.** Conditions are reduced by :func:`rules.core.three_valued.true_form` to
  negation-free formulas over presence tests and comparisons on present values.
* **The session state fact.** Every rule starts with a positive test on a marker field that only
  request facts carry, so the engine's own state document can never match (which would loop).
* **The alpha-walk stack.** The engine walks its alpha network with a fixed 64-entry stack and
  fails with error 303 when many nodes match at once. The compiler models the network exactly as
  the engine builds it (node sharing, forward nodes for ``$or``) and computes the worst-case
  stack height; rules are grouped under a tree of always-true "bucket" tests whose fan-out is
  chosen so that the bound stays under the limit for every possible input. A ruleset that cannot
  be arranged so raises :class:`~rules.errors.EngineLimitError` instead of failing later.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from rules.core.document import Document, Input, Scalar
from rules.core.engine.equality_index import plan_routing
from rules.core.three_valued import FALSE, TRUE, And, Atom, Formula, Or, true_form
from rules.core.validate import validate_document
from rules.errors import CompileError, EngineLimitError, Problem

__all__ = [
    "CLOSE_FACT",
    "MARKER",
    "SHARD_RULES",
    "STACK_LIMIT",
    "Codec",
    "Program",
    "Shard",
    "compile_program",
    "fnv1a32",
    "number",
]

MARKER = "mk"
# Every engine ruleset also has one rule on this field alone. Closing a ruleset asserts a fact
# that fires it, which makes ``delete_state`` safe (it segfaults on a session whose last fact
# matched nothing); without ``delete_state``, ``delete_ruleset`` leaks the session's state.
CLOSER = "cz"
CLOSE_FACT = f'{{"{CLOSER}":1,"id":"close","sid":"0"}}'
CLOSE_RULE = f'"close":{{"all":[{{"m":{{"{CLOSER}":1}}}}]}}'
# The engine fails when its walk stack would exceed 64 entries; the model below is exact at
# that boundary (tests/rules/core/test_engine_defects.py), and we keep a small margin.
STACK_LIMIT = 62
RESERVED_NAMES = ("sid", "id", "$s", "$forward", "$m", "m", "$and", "$or", "$i", "$f", "$l", "$r")
# Engine rules per engine ruleset. The engine finds each queued action by scanning all of a
# ruleset's rules from the first, so draining m matches costs O(rules x m): shards keep it small.
SHARD_RULES = 128
# Bucket layouts tried in order: (rules per leaf bucket, buckets per parent).
LAYOUTS = ((16, 16), (8, 8), (4, 4), (2, 2), (1, 2))
# The engine's per-node child table has 512 slots; when it is full, create_ruleset loops forever.
MAX_CHILDREN = 500
_OPS = {"ne": "$neq", "lt": "$lt", "le": "$lte", "gt": "$gt", "ge": "$gte"}


def fnv1a32(name: str) -> int:
    """The engine's property-name hash (FNV-1a, 32 bit, over the UTF-8 bytes)."""
    h = 0x811C9DC5
    for byte in name.encode("utf-8"):
        h ^= byte if byte < 0x80 else (byte - 256) & 0xFFFFFFFF  # the C code uses signed char
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def number(value: float) -> str:
    """A finite double as JSON the engine parses exactly (a fraction before any exponent)."""
    text = repr(float(value))
    if not math.isfinite(value):
        raise CompileError(f"non-finite number {value!r} cannot reach the engine")
    mantissa, sep, exponent = text.partition("e")
    if sep and "." not in mantissa:
        return f"{mantissa}.0e{exponent}"
    return text


@dataclass(frozen=True, slots=True)
class Codec:
    """How one input's values are written for the engine."""

    input: str
    field: str
    kind: str
    constants: tuple[str, ...] = ()
    _texts: dict[str, str] = dataclasses.field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        texts = {c: number(2.0 * i) for i, c in enumerate(self.constants)}
        object.__setattr__(self, "_texts", texts)

    def encode(self, value: Scalar) -> float:
        if self.kind == "boolean":
            return 1.0 if value else 0.0
        if self.kind == "string":
            text = str(value)
            at = bisect.bisect_left(self.constants, text)
            if at < len(self.constants) and self.constants[at] == text:
                return float(2 * at)
            return float(2 * at - 1)
        return float(value)

    def write(self, value: Scalar) -> str:
        """``number(self.encode(value))``, with the common cases short-cut (the hot path)."""
        if self.kind == "number":
            text = repr(float(value))
            return text if "e" not in text else number(float(value))
        if self.kind == "string":
            known = self._texts.get(value)  # type: ignore[arg-type]
            if known is not None:
                return known
        return number(self.encode(value))


@dataclass(slots=True)
class _Node:
    """A node of the engine's alpha network as durable_rules builds it."""

    prop: str = ""
    op: str = ""
    hashed: dict[tuple[str, str, str], _Node] = field(default_factory=dict)
    nexts: list[_Node] = field(default_factory=list)
    keyed_nexts: dict[tuple[str, str, str], _Node] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Shard:
    """One engine ruleset: its JSON, which document rule each engine rule stands for, and the
    worst-case stack height and widest node of its alpha network."""

    ruleset_json: str
    rule_of: tuple[int, ...]
    stack_bound: int
    max_children: int
    layout: tuple[int, int]


@dataclass(frozen=True, slots=True)
class Program:
    """A compiled document: engine rulesets (shards) and how to encode facts for them."""

    shards: tuple[Shard, ...]
    codecs: tuple[Codec, ...]
    # Equality routing (rules.core.engine.equality_index): facts go to ``always`` plus their
    # value's group's shards.
    route_input: str | None = None
    group_of: dict[Scalar, int] = field(default_factory=dict)
    group_shards: tuple[tuple[int, ...], ...] = ()
    always_shards: tuple[int, ...] = ()

    def shards_for(self, facts: Mapping[str, Scalar | None]) -> tuple[int, ...]:
        """Indices of the shards that can match these facts."""
        if self.route_input is None:
            return self.always_shards
        value = facts.get(self.route_input)
        group = self.group_of.get(value) if value is not None else None
        return (
            self.always_shards if group is None else self.always_shards + self.group_shards[group]
        )

    @property
    def stack_bound(self) -> int:
        return max((s.stack_bound for s in self.shards), default=0)

    @property
    def max_children(self) -> int:
        return max((s.max_children for s in self.shards), default=0)


def _atom_json(atom: Atom, codec: Codec) -> str:
    f = codec.field
    if atom.op == "present":
        return f'{{"$ex":{{"{f}":1}}}}'
    if atom.op == "absent":
        return f'{{"$nex":{{"{f}":1}}}}'
    if atom.value is None:
        raise CompileError(f"atom {atom!r} has no value")
    value = number(codec.encode(atom.value))
    if atom.op == "eq":
        return f'{{"{f}":{value}}}'
    return f'{{"{_OPS[atom.op]}":{{"{f}":{value}}}}}'


def _codecs(doc: Document, forms: Iterable[Formula]) -> dict[str, Codec]:
    used: dict[str, set[str]] = {}

    def walk(form: Formula) -> None:
        if isinstance(form, Atom):
            strings = used.setdefault(form.input, set())
            if isinstance(form.value, str):
                strings.add(form.value)
        elif isinstance(form, And | Or):
            for item in form.items:
                walk(item)

    for form in forms:
        walk(form)
    codecs: dict[str, Codec] = {}
    taken = {fnv1a32(n) for n in (*RESERVED_NAMES, MARKER, CLOSER)}
    serial = 0
    for spec in doc.inputs:
        if spec.name not in used:
            continue
        name = f"v{serial}"
        while fnv1a32(name) in taken:
            serial += 1
            name = f"v{serial}"
        taken.add(fnv1a32(name))
        serial += 1
        codecs[spec.name] = _codec(spec, name, used[spec.name])
    return codecs


def _codec(spec: Input, name: str, strings: set[str]) -> Codec:
    kind = spec.type if spec.type in ("boolean", "string") else "number"
    return Codec(spec.name, name, kind, tuple(sorted(strings)))


def _sort_key(form: Formula, order: dict[str, int]) -> tuple[int, int, str]:
    if isinstance(form, Atom):
        rank = {"eq": 0, "present": 2, "absent": 3}.get(form.op, 1)
        return (rank, order[form.input], repr(form.value))
    return (4, 0, "")


def _branches(form: Formula) -> list[list[Formula]]:
    """A rule's formula as engine rules: top-level disjuncts become separate engine rules."""
    if form == FALSE:
        return []
    if form == TRUE:
        return [[]]
    disjuncts = form.items if isinstance(form, Or) else (form,)
    return [list(d.items) if isinstance(d, And) else [d] for d in disjuncts]


class _Emitter:
    """Writes engine JSON and mirrors the alpha network it will produce."""

    def __init__(self, codecs: dict[str, Codec], order: dict[str, int]) -> None:
        self.codecs = codecs
        self.order = order

    def item(self, parent: _Node, form: Formula) -> tuple[_Node, str]:
        if isinstance(form, Atom):
            codec = self.codecs[form.input]
            text = _atom_json(form, codec)
            return _child(parent, codec.field, form.op, text), text
        if isinstance(form, And):
            end, texts = self.chain(parent, list(form.items))
            return end, texts[0] if len(texts) == 1 else '{"$and":[' + ",".join(texts) + "]}"
        if isinstance(form, Or):
            forward = _Node(prop="$forward", op="absent")
            texts = []
            for branch in form.items:
                end, text = self.item(parent, branch)
                end.nexts.append(forward)
                texts.append(text)
            return forward, '{"$or":[' + ",".join(texts) + "]}"
        raise CompileError(f"cannot compile {form!r}")

    def chain(self, parent: _Node, items: list[Formula]) -> tuple[_Node, list[str]]:
        """A conjunction as a chain of nodes below ``parent``; returns its end and each test."""
        texts = []
        for form in sorted(items, key=lambda f: _sort_key(f, self.order)):
            parent, text = self.item(parent, form)
            texts.append(text)
        return parent, texts


def _child(parent: _Node, field_name: str, op: str, text: str) -> _Node:
    key = (field_name, op, text)
    table = parent.keyed_nexts if op == "absent" else parent.hashed
    node = table.get(key)
    if node is None:
        node = _Node(prop=field_name, op=op)
        table[key] = node
        if op == "absent":
            parent.nexts.append(node)
    return node


def stack_height(node: _Node, memo: dict[int, int] | None = None) -> int:
    """Worst-case stack height the engine's alpha walk reaches below ``node``."""
    memo = {} if memo is None else memo
    key = id(node)
    if key in memo:
        return memo[key]
    kids = [*node.hashed.values(), *node.nexts]
    if not kids:
        memo[key] = 0
        return 0
    eq_fields = {n.prop for n in node.hashed.values() if n.op == "eq"}
    pushes = len(eq_fields) + sum(1 for n in node.hashed.values() if n.op != "eq")
    pushes += len(node.nexts)
    deepest = max(stack_height(k, memo) for k in kids)
    memo[key] = max(pushes, pushes - 1 + deepest)
    return memo[key]


def _max_children(node: _Node, seen: set[int] | None = None) -> int:
    seen = set() if seen is None else seen
    if id(node) in seen:
        return 0
    seen.add(id(node))
    kids = [*node.hashed.values(), *node.nexts]
    return max([len(node.hashed), *(_max_children(k, seen) for k in kids)])


def _layout(
    emitter: _Emitter, rules: Sequence[list[Formula]], leaf: int, fanout: int
) -> tuple[_Node, list[str]]:
    """Emit every engine rule under a bucket tree with ``leaf`` rules per bucket."""
    root = _Node()
    _child(root, CLOSER, "eq", f'{{"{CLOSER}":1}}')
    marker, marker_text = _child(root, MARKER, "eq", f'{{"{MARKER}":1}}'), f'{{"{MARKER}":1}}'
    paths: list[list[int]] = [[] for _ in rules]
    groups: list[list[int]] = [
        list(range(i, min(i + leaf, len(rules)))) for i in range(0, len(rules), leaf)
    ]
    # Group buckets under parents until one group remains at the top.
    while len(groups) > 1:
        parents = [groups[i : i + fanout] for i in range(0, len(groups), fanout)]
        for parent in parents:
            for slot, group in enumerate(parent):
                for r in group:
                    paths[r].insert(0, slot + 2)
        groups = [[r for g in parent for r in g] for parent in parents]
    bodies = []
    for r, items in enumerate(rules):
        node = marker
        texts = [marker_text]
        for slot in paths[r]:
            text = f'{{"$neq":{{"{MARKER}":{slot}}}}}'
            node = _child(node, MARKER, "ne", text)
            texts.append(text)
        texts += emitter.chain(node, items)[1]
        bodies.append('{"$and":[' + ",".join(texts) + "]}")
    return root, bodies


def compile_program(doc: Document) -> Program:
    """Compile a valid document, or raise CompileError naming what is wrong with it."""
    errors = [p for p in validate_document(doc) if p.severity == "error"]
    if errors:
        raise CompileError("the document has errors; fix them before evaluating", errors)
    forms = [true_form(rule.when) for rule in doc.rules]
    order = {spec.name: i for i, spec in enumerate(doc.inputs)}
    codecs = _codecs(doc, forms)
    engine_rules: list[list[Formula]] = []
    rule_of: list[int] = []
    for index, form in enumerate(forms):
        for branch in _branches(form):
            engine_rules.append(branch)
            rule_of.append(index)
    emitter = _Emitter(codecs, order)
    routing = plan_routing(engine_rules, list(codecs))
    if routing is None:
        parts: list[tuple[int, ...]] = [tuple(range(len(engine_rules)))]
    else:
        parts = [routing.always, *routing.groups]
    shards: list[Shard] = []
    owned: list[tuple[int, ...]] = []
    for part in parts:
        start = len(shards)
        shards += _shards(emitter, [engine_rules[r] for r in part], [rule_of[r] for r in part])
        owned.append(tuple(range(start, len(shards))))
    if routing is None:
        return Program(shards=tuple(shards), codecs=tuple(codecs.values()), always_shards=owned[0])
    return Program(
        shards=tuple(shards),
        codecs=tuple(codecs.values()),
        route_input=routing.input,
        group_of=routing.group_of,
        group_shards=tuple(owned[1:]),
        always_shards=owned[0],
    )


def _shards(emitter: _Emitter, rules: list[list[Formula]], rule_of: list[int]) -> list[Shard]:
    """Engine rulesets for these engine rules, rules sharing leading tests side by side."""
    order = emitter.order
    placement = sorted(
        range(len(rules)),
        key=lambda r: [
            _sort_key(f, order) for f in sorted(rules[r], key=lambda f: _sort_key(f, order))
        ],
    )
    placed = [rules[r] for r in placement]
    placed_rule_of = [rule_of[r] for r in placement]
    return [
        _shard(emitter, placed[i : i + SHARD_RULES], placed_rule_of[i : i + SHARD_RULES])
        for i in range(0, len(placed), SHARD_RULES)
    ]


def _shard(emitter: _Emitter, placed: list[list[Formula]], rule_of: list[int]) -> Shard:
    bound = 0
    layouts = LAYOUTS if len(placed) > LAYOUTS[0][0] else ((len(placed) or 1, 2), *LAYOUTS[1:])
    for leaf, fanout in layouts:
        root, bodies = _layout(emitter, placed, leaf, fanout)
        bound = stack_height(root)
        widest = _max_children(root)
        if bound <= STACK_LIMIT and widest <= MAX_CHILDREN:
            rules_json = ",".join(
                [
                    *(f'"r{k}":{{"all":[{{"m":{body}}}]}}' for k, body in enumerate(bodies)),
                    CLOSE_RULE,
                ]
            )
            return Shard(
                ruleset_json="{" + rules_json + "}",
                rule_of=tuple(rule_of),
                stack_bound=bound,
                max_children=widest,
                layout=(leaf, fanout),
            )
    raise EngineLimitError(
        "the ruleset is too complex for the engine",
        [
            Problem(
                "RB301",
                "rules",
                f"its conditions can make {bound} engine tests match at once (limit "
                f"{STACK_LIMIT}); split wide 'any' lists of overlapping ranges into separate rules",
            )
        ],
    )
