"""Regions of a ruleset's input space: boxes of per-input domains, and conditions as boxes.

A :class:`Box` gives a :class:`~rules.core.check.domains.Domain` to some inputs (the others range
over their universe). A rule's condition, through :func:`rules.core.three_valued.true_form`, becomes
a list of boxes (its disjunctive normal form) with :meth:`Space.boxes`. Box lists are capped: a
capped list is a subset of the rule's region (an under-approximation), which keeps every claim built
on it sound.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rules.core.check.domains import Dim, Domain, spans_or, spans_sub
from rules.core.document import Document, Scalar
from rules.core.three_valued import Atom, Const, Formula, Or

__all__ = ["Box", "Space"]


@dataclass(frozen=True, slots=True)
class Box:
    """Fact sets given by one domain per constrained input (by position); every other input
    ranges over its universe. Parts are sorted by position and never equal the universe."""

    parts: tuple[tuple[int, Domain], ...] = ()

    def get(self, dim: int) -> Domain | None:
        for d, domain in self.parts:
            if d == dim:
                return domain
        return None

    def meet(self, other: Box) -> Box | None:
        """The intersection, or None when it is empty."""
        merged = dict(self.parts)
        for d, domain in other.parts:
            mine = merged.get(d)
            if mine is not None:
                domain = mine.meet(domain)
                if domain.empty:
                    return None
            merged[d] = domain
        return Box(tuple(sorted(merged.items(), key=lambda p: p[0])))


@dataclass(frozen=True, slots=True)
class Space:
    """The valid fact sets of a document, and its rules' conditions as boxes."""

    dims: tuple[Dim, ...]
    index: dict[str, int] = field(compare=False, hash=False)
    atoms: dict[Atom, tuple[Box, ...]] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def of(cls, doc: Document) -> Space:
        dims = tuple(Dim.of(spec) for spec in doc.inputs)
        return cls(dims, {dim.spec.name: i for i, dim in enumerate(dims)})

    @property
    def void(self) -> bool:
        """Whether no fact set is valid at all (some input admits no value, not even null)."""
        return any(dim.universe.empty for dim in self.dims)

    def domain(self, box: Box, dim: int) -> Domain:
        found = box.get(dim)
        return self.dims[dim].universe if found is None else found

    def restrict(self, box: Box, dim: int, domain: Domain) -> Box:
        """``box`` with input ``dim`` ranging over ``domain`` (a subset of its universe)."""
        rest = [p for p in box.parts if p[0] != dim]
        if domain != self.dims[dim].universe:
            rest.append((dim, domain))
        return Box(tuple(sorted(rest, key=lambda p: p[0])))

    def contains(self, outer: Box, inner: Box) -> bool:
        """Whether every fact set of ``inner`` is in ``outer``."""
        return all(self.domain(inner, d).within(domain) for d, domain in outer.parts)

    def witness(self, box: Box) -> dict[str, Scalar | None]:
        """Facts in a nonempty box: constrained and required inputs get a value (or null);
        unconstrained optional inputs are left out, which is null to the rules."""
        facts: dict[str, Scalar | None] = {}
        for d, dim in enumerate(self.dims):
            domain = box.get(d)
            if domain is not None:
                facts[dim.spec.name] = dim.pick(domain)
            elif dim.spec.required:
                facts[dim.spec.name] = dim.pick(dim.universe)
        return facts

    def boxes(self, form: Formula, limit: int) -> tuple[list[Box], bool]:
        """A formula's fact sets as at most ``limit`` nonempty boxes, and whether they are all
        of them (False: the list was capped, and covers only part of the formula)."""
        if self.void:
            return [], True
        boxes, complete = self._dnf(form, limit)
        return _merge(self, boxes), complete

    def _atom(self, atom: Atom) -> list[Box]:
        found = self.atoms.get(atom)
        if found is None:
            d = self.index.get(atom.input)
            domain = None if d is None else self.dims[d].atom(atom.op, atom.value)
            if d is None or domain is None or domain.empty:
                found = ()
            else:
                found = (self.restrict(Box(), d, domain),)
            self.atoms[atom] = found
        return list(found)

    def _dnf(self, form: Formula, limit: int) -> tuple[list[Box], bool]:
        if isinstance(form, Const):
            return ([Box()] if form.value else []), True
        if isinstance(form, Atom):
            return self._atom(form), True
        parts = [self._dnf(item, limit) for item in form.items]
        complete = all(ok for _, ok in parts)
        if isinstance(form, Or):
            boxes = _merge(self, [b for p, _ in parts for b in p])
            return boxes[:limit], complete and len(boxes) <= limit
        if all(len(boxes) == 1 for boxes, _ in parts):
            return _meet_all(self, [boxes[0] for boxes, _ in parts]), complete
        product = [Box()]
        for boxes, _ in sorted(parts, key=lambda p: len(p[0])):
            product, ok = _product(product, boxes, limit)
            complete = complete and ok
        return product, complete


def _meet_all(space: Space, boxes: list[Box]) -> list[Box]:
    """The intersection of many boxes, as a list of at most one box. Domains of one input
    meet through their complements (one union, then one difference), so ``x not_in`` a long
    list costs a sort, not one pass per value."""
    by_dim: dict[int, list[Domain]] = {}
    for box in boxes:
        for d, domain in box.parts:
            by_dim.setdefault(d, []).append(domain)
    parts = []
    for d, domains in sorted(by_dim.items()):
        universe = space.dims[d].universe
        outside = spans_or(*(spans_sub(universe.spans, dom.spans) for dom in domains))
        domain = Domain(all(dom.null for dom in domains), spans_sub(universe.spans, outside))
        if domain.empty:
            return []
        parts.append((d, domain))
    return [Box(tuple(parts))]


def _product(left: list[Box], right: list[Box], limit: int) -> tuple[list[Box], bool]:
    out: dict[Box, None] = {}
    for a in left:
        for b in right:
            both = a.meet(b)
            if both is not None:
                out[both] = None
                if len(out) >= limit:
                    return list(out), False
    return list(out), True


def _merge(space: Space, boxes: list[Box]) -> list[Box]:
    """Fewer boxes for the same fact sets: duplicates dropped, and boxes equal but for one
    input joined (``x in [1, 2]`` becomes one box), a few rounds."""
    boxes = list(dict.fromkeys(boxes))
    if len(boxes) < 2:
        return boxes
    for _ in range(3):
        before = len(boxes)
        for dim in sorted({d for b in boxes for d, _ in b.parts}):
            boxes = _join_on(space, boxes, dim)
        if len(boxes) == before:
            break
    return boxes


def _join_on(space: Space, boxes: list[Box], dim: int) -> list[Box]:
    groups: dict[tuple[tuple[int, Domain], ...], list[Domain] | None] = {}
    for box in boxes:
        rest = tuple(p for p in box.parts if p[0] != dim)
        mine = box.get(dim)
        seen = groups.setdefault(rest, [])
        if seen is not None and mine is not None:
            seen.append(mine)
        else:
            groups[rest] = None  # some box leaves the input free: so does their union
    out = []
    for rest, domains in groups.items():
        box = Box(rest)
        if domains is not None:
            joined = Domain(any(d.null for d in domains), spans_or(*(d.spans for d in domains)))
            box = space.restrict(box, dim, joined)
        out.append(box)
    return out
