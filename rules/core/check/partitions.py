"""Searching many boxes at once by recursive partition of the input space.

Both searches cut a region of the space along one input at every span end of the boxes in it
into *cells* (plus the null cell), so that each box covers a cell on that input or misses it,
and group adjacent cells into at most :data:`MAX_BINS` *bins*. Only the boxes that meet a bin
go on with it, and adjacent bins with the same boxes are joined. Each step removes at least
one span end from the region, so the recursion ends; binning keeps a box that spans many cells
from being copied into every one of them.

* :func:`overlaps` yields every pair of intersecting boxes of different rules, each once. It
  splits on the input whose bins hold the fewest pairs, and compares pairs directly when no
  split would halve them (boxes that all overlap are cheapest to compare outright).
* :func:`uncovered` finds part of a region that no box covers, or shows there is none. It
  splits on the input whose fullest bin holds the fewest boxes, and visits the emptiest bins
  first, where uncovered fact sets are likeliest.

Both spend from a :class:`Budget` and raise :class:`Exhausted` when it runs out, so a caller
can report an incomplete analysis instead of running for minutes.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rules.core.check.domains import Domain, Key, spans_or
from rules.core.check.regions import Box, Space

__all__ = ["Budget", "Exhausted", "Piece", "overlaps", "uncovered"]

# Below this many boxes, checking every pair is cheaper than partitioning.
LEAF_SIZE = 8
# A split groups cells into at most this many bins, so a box spanning many cells is
# copied a few times, not once per cell.
MAX_BINS = 8
# Work units, weighed to take about the same time: a box intersection, a containment test.
MEET_COST = 8
CONTAINS_COST = 4
# Deeper recursion than this (Python's stack allows about 1000) counts as out of budget.
MAX_DEPTH = 400


class Exhausted(Exception):
    """An analysis ran out of its work budget."""


class Budget:
    """A count of work units (boxes visited, pairs compared) an analysis may still spend."""

    def __init__(self, units: int) -> None:
        self.left = units

    def spend(self, units: int, depth: int = 0) -> None:
        self.left -= units
        if self.left < 0 or depth > MAX_DEPTH:
            raise Exhausted


@dataclass(frozen=True, slots=True)
class Piece:
    """One box of one rule's condition; ``id`` is unique among the pieces searched."""

    id: int
    rule: int
    box: Box


Ranges = tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class _Split:
    """A region cut along ``dim`` into *elementary cells* (no piece has a span end inside
    one; the null cell last), grouped into at most :data:`MAX_BINS` *bins* of adjacent cells.

    ``covered`` gives, per piece, the cell ranges it covers (None: all); ``edges`` the first
    cell of each bin and, last, the number of cells; ``sizes`` how many pieces meet each bin.
    """

    dim: int
    cells: tuple[Domain, ...]
    covered: tuple[Ranges | None, ...]
    edges: tuple[int, ...]
    sizes: tuple[int, ...]

    @property
    def spread(self) -> tuple[int, int]:
        """The fullest bin's pieces, then all bins' pieces: what a cover search costs."""
        return max(self.sizes), sum(self.sizes)

    @property
    def pairs(self) -> int:
        """About how many pairs the bins hold: what an overlap search costs."""
        return sum(size * (size - 1) for size in self.sizes) // 2

    def bins(self, ranges: Ranges | None) -> Ranges:
        """The bins that a piece covering these cell ranges meets, as index ranges."""
        if ranges is None:
            return ((0, len(self.edges) - 1),)
        out: list[tuple[int, int]] = []
        for first, last in ranges:
            low = bisect_right(self.edges, first) - 1
            high = bisect_left(self.edges, last)
            if out and low < out[-1][1]:
                out[-1] = (out[-1][0], high)
            else:
                out.append((low, high))
        return tuple(out)


def _cells(region: Domain, doms: Sequence[Domain | None]) -> tuple[Domain, ...]:
    """The region cut at every span end of ``doms``: value cells in key order, then null."""
    cuts = sorted(
        {k for d in doms if d is not None for span in d.spans for k in span if k is not None}
    )
    cells: list[Domain] = []
    for lo, hi in region.spans:
        start = lo
        for cut in cuts[bisect_left(cuts, lo) :]:
            if hi is not None and cut >= hi:
                break
            if cut > start:
                cells.append(Domain(False, ((start, cut),)))
                start = cut
        cells.append(Domain(False, ((start, hi),)))
    if region.null:
        cells.append(Domain(True))
    return tuple(cells)


def _ranges(los: Sequence[Key], values: int, null: bool, dom: Domain) -> Ranges:
    """The cells ``dom`` covers: index ranges into the value cells (whose lower ends are
    ``los``), then the null cell (index ``values``) when both have null."""
    out = []
    for lo, hi in dom.spans:
        first = bisect_left(los, lo)
        last = values if hi is None else bisect_left(los, hi)
        if first < last:
            out.append((first, last))
    if dom.null and null:
        out.append((values, values + 1))
    return tuple(out)


def _edges(values: int, null: bool) -> tuple[int, ...]:
    count = min(values, MAX_BINS - 1) if null else min(values, MAX_BINS)
    edges = [values * k // count for k in range(count)] if count else []
    return (*edges, values, values + 1) if null else (*edges, values)


def _split(space: Space, region: Box, pieces: Sequence[Piece], dim: int) -> _Split:
    area = space.domain(region, dim)
    doms = [p.box.get(dim) for p in pieces]
    cells = _cells(area, doms)
    values = len(cells) - (1 if area.null else 0)
    los = [cell.spans[0][0] for cell in cells[:values]]
    covered = tuple(None if d is None else _ranges(los, values, area.null, d) for d in doms)
    edges = _edges(values, area.null)
    split = _Split(dim, cells, covered, edges, ())
    steps = [0] * len(edges)
    for ranges in covered:
        for low, high in split.bins(ranges):
            steps[low] += 1
            steps[high] -= 1
    return _Split(dim, cells, covered, edges, tuple(itertools.accumulate(steps[:-1])))


def _best(
    space: Space,
    region: Box,
    pieces: Sequence[Piece],
    budget: Budget,
    cost: Callable[[_Split], Any],
) -> _Split | None:
    """The split of least ``cost`` among those with more than one cell; None when no input
    has more than one (then every piece covers the region on every input it constrains)."""
    dims = sorted({d for p in pieces for d, _ in p.box.parts})
    budget.spend(len(pieces) * len(dims))
    splits = [_split(space, region, pieces, dim) for dim in dims]
    return min((s for s in splits if len(s.cells) > 1), key=cost, default=None)


def _groups(
    space: Space, region: Box, pieces: Sequence[Piece], split: _Split, budget: Budget
) -> list[tuple[Box, list[Piece]]]:
    """Each bin's region with the pieces meeting it; adjacent bins with the same pieces are
    joined into one, unless every bin has the same pieces (each bin is still a smaller
    region, which is what guarantees progress)."""
    budget.spend(sum(split.sizes))
    members: list[list[Piece]] = [[] for _ in split.sizes]
    for piece, ranges in zip(pieces, split.covered, strict=True):
        for low, high in split.bins(ranges):
            for k in range(low, high):
                members[k].append(piece)
    # Join equal neighbours, unless that would give back the whole region.
    joinable = any(a != b for a, b in itertools.pairwise(members))
    out: list[tuple[Box, list[Piece]]] = []
    k = 0
    while k < len(members):
        first, group = k, members[k]
        while joinable and k + 1 < len(members) and members[k + 1] == group:
            k += 1
        k += 1
        cells = split.cells[split.edges[first] : split.edges[k]]
        domain = Domain(any(c.null for c in cells), spans_or(*(c.spans for c in cells)))
        out.append((space.restrict(region, split.dim, domain), group))
    return out


def overlaps(
    space: Space, pieces: Sequence[Piece], budget: Budget, wanted: Callable[[int, int], bool]
) -> Iterator[tuple[Piece, Piece, Box]]:
    """Every intersecting pair of pieces of different rules ``i < j`` with ``wanted(i, j)``,
    once each, as (piece of i, piece of j, their intersection)."""
    yield from _pairs(space, Box(), pieces, budget, wanted, set(), 0)


def _pairs(
    space: Space,
    region: Box,
    pieces: Sequence[Piece],
    budget: Budget,
    wanted: Callable[[int, int], bool],
    seen: set[tuple[int, int]],
    depth: int,
) -> Iterator[tuple[Piece, Piece, Box]]:
    budget.spend(len(pieces), depth)
    if len(pieces) > LEAF_SIZE:
        split = _best(space, region, pieces, budget, lambda s: s.pairs)
        if split is not None and split.pairs < len(pieces) * (len(pieces) - 1) // 4:
            for cell, group in _groups(space, region, pieces, split, budget):
                if len(group) > 1:
                    yield from _pairs(space, cell, group, budget, wanted, seen, depth + 1)
            return
    for x, a in enumerate(pieces):
        budget.spend(len(pieces) - x)
        for b in pieces[x + 1 :]:
            first, second = (a, b) if a.rule < b.rule else (b, a)
            key = (first.id, second.id)
            if a.rule == b.rule or key in seen or not wanted(first.rule, second.rule):
                continue
            seen.add(key)
            budget.spend(MEET_COST)
            both = first.box.meet(second.box)
            if both is not None:
                yield first, second, both


def _size(group: tuple[Box, list[Piece]]) -> int:
    return len(group[1])


def uncovered(
    space: Space,
    region: Box,
    pieces: Sequence[Piece],
    budget: Budget,
    used: set[int],
    depth: int = 0,
) -> Box | None:
    """A nonempty part of ``region`` that no piece covers, or None when the pieces (each of
    which must intersect the region) cover all of it; ``used`` gains the rules whose pieces
    were needed to cover it."""
    budget.spend(CONTAINS_COST * len(pieces) + 1, depth)
    if not pieces:
        return region
    for piece in pieces:
        if space.contains(piece.box, region):
            used.add(piece.rule)
            return None
    split = _best(space, region, pieces, budget, lambda s: s.spread)
    if split is None:  # impossible for pieces that intersect the region; stay sound anyway
        raise Exhausted
    for cell, group in sorted(_groups(space, region, pieces, split, budget), key=_size):
        found = uncovered(space, cell, group, budget, used, depth + 1)
        if found is not None:
            return found
    return None
