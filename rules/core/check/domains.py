"""One input's values as a set: the domain algebra under the static analyses.

A fact set gives each input one value, or null. Each input is a :class:`Dim` whose valid
values (type, ``min``/``max``, ``values``, ``required``) form its *universe*. A :class:`Domain`
is a set of one input's values: a null flag plus sorted, disjoint, non-adjacent, half-open
spans ``[lo, hi)`` of *keys* (``hi`` None is unbounded). Keys are the values themselves for
integers (``int``), numbers (``float``: every finite double is a key, so an open end becomes a
closed one with :func:`math.nextafter`) and strings (code-point order; the least string above
``s`` is ``s + "\\0"``), and positions in the list of allowed values for booleans and for
inputs that declare ``values``. Strict bounds thus become exact half-open spans: ``x <= 2``
and ``x >= 3`` cover an integer input but leave ``[nextafter(2), 3)`` of a number input.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from rules.core.document import MAX_EXACT_INT, Input, Scalar
from rules.core.validate import value_fits

__all__ = ["Dim", "Domain", "Key", "spans_and", "spans_or", "spans_sub"]

# A key is an int, float or str; one kind per input. Mixed unions defeat mypy's operators.
Key: TypeAlias = Any
Span: TypeAlias = tuple[Key, Key | None]
Spans: TypeAlias = tuple[Span, ...]

_MAX_FLOAT = sys.float_info.max
_BOTTOM: dict[str, Key] = {"int": -MAX_EXACT_INT, "float": -math.inf, "str": "", "enum": 0}


def _below(key: Key, hi: Key | None) -> bool:
    return hi is None or key < hi


def spans_and(a: Spans, b: Spans) -> Spans:
    """The intersection of two span lists."""
    out: list[Span] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        ahi, bhi = a[i][1], b[j][1]
        hi = bhi if ahi is None or (bhi is not None and bhi < ahi) else ahi
        if _below(lo, hi):
            out.append((lo, hi))
        if hi == ahi:
            i += 1
        else:
            j += 1
    return tuple(out)


def spans_or(*parts: Spans) -> Spans:
    """The union of span lists, as sorted, disjoint, non-adjacent spans."""
    out: list[Span] = []
    for lo, hi in sorted((s for p in parts for s in p), key=lambda s: s[0]):
        if not _below(lo, hi):
            continue
        if out and (out[-1][1] is None or lo <= out[-1][1]):
            last_lo, last_hi = out[-1]
            out[-1] = (last_lo, None if last_hi is None or hi is None else max(last_hi, hi))
        else:
            out.append((lo, hi))
    return tuple(out)


def spans_sub(a: Spans, b: Spans) -> Spans:
    """The keys of ``a`` outside ``b``."""
    out: list[Span] = []
    j = 0
    for lo, hi in a:
        while j < len(b) and b[j][1] is not None and b[j][1] <= lo:
            j += 1  # b[j] ends before this span of a, and so before every later one
        cur: Key | None = lo
        for k in range(j, len(b)):
            blo, bhi = b[k]
            if not _below(blo, hi):
                break
            if cur < blo:
                out.append((cur, blo))
            if bhi is None or not _below(bhi, hi):
                cur = None
                break
            cur = max(cur, bhi)
        if cur is not None:
            out.append((cur, hi))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Domain:
    """A set of one input's values: ``null`` and the keys in ``spans``."""

    null: bool
    spans: Spans = ()

    @property
    def empty(self) -> bool:
        return not self.null and not self.spans

    def meet(self, other: Domain) -> Domain:
        return Domain(self.null and other.null, spans_and(self.spans, other.spans))

    def join(self, other: Domain) -> Domain:
        return Domain(self.null or other.null, spans_or(self.spans, other.spans))

    def within(self, other: Domain) -> bool:
        """Whether every value of this domain is in ``other``."""
        return (other.null or not self.null) and not spans_sub(self.spans, other.spans)


def _succ(kind: str, key: Key) -> Key:
    """The least key above ``key``."""
    if kind == "float":
        return math.nextafter(key, math.inf)
    return key + "\0" if kind == "str" else key + 1


def _at_least(kind: str, value: Key) -> Key:
    """The least key not below ``value``."""
    if kind == "int":
        return math.ceil(value)
    return float(value) + 0.0 if kind == "float" else value


def _above(kind: str, value: Key) -> Key:
    """The least key above ``value``."""
    return math.floor(value) + 1 if kind == "int" else _succ(kind, _at_least(kind, value))


def _comparable(kind: str, value: Scalar | None) -> bool:
    if kind == "str":
        return isinstance(value, str)
    return isinstance(value, int | float) and not isinstance(value, bool)


def _ordered(kind: str, op: str, value: Scalar | None) -> Spans:
    """The keys of an ordered kind that satisfy ``key op value`` (before the universe)."""
    if not _comparable(kind, value) or value is None:
        return ()
    bottom = _BOTTOM[kind]
    if op in ("lt", "ge"):
        low = _at_least(kind, value)
        return ((bottom, low),) if op == "lt" else ((low, None),)
    high = _above(kind, value)
    if op in ("le", "gt"):
        return ((bottom, high),) if op == "le" else ((high, None),)
    low = _at_least(kind, value)
    if op == "eq":
        return ((low, high),) if low < high else ()
    return spans_or(((bottom, low), (high, None))) if op == "ne" else ()


def _holds(op: str, x: Scalar, value: Scalar | None) -> bool:
    """``x op value`` for an allowed value ``x`` and a document value of the same type."""
    if value is None or isinstance(x, bool) != isinstance(value, bool):
        return False
    if isinstance(x, str) != isinstance(value, str):
        return False
    if op in ("eq", "ne"):
        return (x == value) == (op == "eq")
    if isinstance(x, bool):
        return False
    ordered: dict[str, bool] = {
        "lt": x < value,  # type: ignore[operator]
        "le": x <= value,  # type: ignore[operator]
        "gt": x > value,  # type: ignore[operator]
        "ge": x >= value,  # type: ignore[operator]
    }
    return ordered.get(op, False)


def _positions(indices: Sequence[int]) -> Spans:
    return spans_or(tuple((i, i + 1) for i in indices))


def _fact_number(key: float) -> int | float:
    if key.is_integer() and abs(key) <= MAX_EXACT_INT:
        return int(key)
    return key


def _pick_float(lo: float, hi: float) -> float:
    """A short value in ``[lo, hi)``: zero, an integer, or a few decimals when possible."""
    if lo <= 0.0 < hi:
        return 0.0
    near = float(math.ceil(lo)) if lo > 0 else float(math.ceil(hi) - 1)
    if lo <= near < hi:
        return near
    middle = lo / 2 + hi / 2
    for digits in range(1, 18):
        short = round(middle, digits)
        if lo <= short < hi:
            return short
    return lo


def _pick_str(lo: str, hi: str | None) -> str:
    """A readable string in ``[lo, hi)``, avoiding the NUL that successor keys end with."""
    base = lo[:-1] if lo.endswith("\0") else lo
    candidates: tuple[str, ...] = (base + "_", base + "~") if lo.endswith("\0") else ()
    if lo == "":
        candidates = ("x", "a", "0")
    for text in candidates:
        if lo <= text and _below(text, hi):
            return text
    return lo


@dataclass(frozen=True, slots=True)
class Dim:
    """One input's part of the space: its key kind and its universe of valid values."""

    spec: Input
    kind: str  # "int", "float", "str", or "enum" (keys are positions in ``choices``)
    universe: Domain
    choices: tuple[Scalar, ...] = ()

    @classmethod
    def of(cls, spec: Input) -> Dim:
        null = not spec.required
        if spec.values is not None or spec.type == "boolean":
            choices = _choices(spec)
            return cls(spec, "enum", Domain(null, _positions(range(len(choices)))), choices)
        if spec.type == "string":
            return cls(spec, "str", Domain(null, (("", None),)))
        kind = "int" if spec.type == "integer" else "float"
        low: Key = -MAX_EXACT_INT if kind == "int" else -_MAX_FLOAT
        high: Key = MAX_EXACT_INT if kind == "int" else _MAX_FLOAT
        if spec.min is not None:
            low = max(low, _at_least(kind, spec.min))
        if spec.max is not None:
            high = min(high, math.floor(spec.max) if kind == "int" else float(spec.max))
        spans: Spans = ((low, _succ(kind, high)),) if low <= high else ()
        return cls(spec, kind, Domain(null, spans))

    def atom(self, op: str, value: Scalar | None) -> Domain:
        """The values of this input for which the atom ``op value`` holds."""
        if op == "present":
            return Domain(False, self.universe.spans)
        if op == "absent":
            return Domain(self.universe.null)
        if self.kind == "enum":
            hits = [i for i, x in enumerate(self.choices) if _holds(op, x, value)]
            return Domain(False, _positions(hits))
        return Domain(False, spans_and(_ordered(self.kind, op, value), self.universe.spans))

    def value(self, key: Key) -> Scalar:
        """The fact value of a key."""
        if self.kind == "enum":
            return self.choices[key]
        return _fact_number(key) if self.kind == "float" else key

    def pick(self, domain: Domain) -> Scalar | None:
        """A value of a nonempty domain, as readable as the domain allows (null as a last
        resort)."""
        if not domain.spans:
            return None
        lo: Key = domain.spans[0][0]
        hi: Key = domain.spans[0][1]
        if self.kind == "float":
            return self.value(_pick_float(lo, hi))
        if self.kind == "str":
            return _pick_str(lo, hi)
        if self.kind == "int":
            return 0 if lo <= 0 < hi else (lo if lo > 0 else hi - 1)
        return self.value(lo)


def _choices(spec: Input) -> tuple[Scalar, ...]:
    """The values a fact may take for an enumerated input, without numeric duplicates."""
    values = spec.values if spec.values is not None else (False, True)
    out: list[Scalar] = []
    for value in values:
        if not value_fits(spec.type, value) or value in out:
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            if spec.min is not None and value < spec.min:
                continue
            if spec.max is not None and value > spec.max:
                continue
            if spec.type == "integer":
                if abs(value) > MAX_EXACT_INT:
                    continue
                value = int(value)
        out.append(value)
    return tuple(out)
