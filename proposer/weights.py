"""How many cases a set of groups stands for: group ``i`` is bit ``i`` of a Python int, and
its weight (its number of cases) is held as bit planes (``planes[k]``: the groups whose weight
has bit ``k`` set), so a weighted count is one popcount per plane; a sample of single cases has
one plane, and its count is a popcount."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

__all__ = ["Weights"]


@dataclass(frozen=True, slots=True)
class Weights:
    """How many cases each bit stands for, as bit planes: ``planes[k]`` holds the bits whose
    weight has bit ``k`` set."""

    planes: tuple[int, ...]
    values: tuple[int, ...] = ()  # each bit's weight
    NONE: ClassVar[Weights]

    @classmethod
    def of(cls, weights: Sequence[int]) -> Weights:
        planes: list[int] = []
        for i, weight in enumerate(weights):
            k = 0
            while weight:
                if weight & 1:
                    while len(planes) <= k:
                        planes.append(0)
                    planes[k] |= 1 << i
                weight >>= 1
                k += 1
        return cls(tuple(planes), tuple(weights))

    @classmethod
    def ones(cls, n: int) -> Weights:
        return cls(((1 << n) - 1,) if n else (), (1,) * n)

    def count(self, bits: int) -> int:
        """The number of cases in ``bits``."""
        planes = self.planes
        if len(planes) == 1:
            return (bits & planes[0]).bit_count()
        return sum((bits & plane).bit_count() << k for k, plane in enumerate(planes))

    def counter(self) -> Callable[[int], int]:
        """:meth:`count` as a fast function for sets of the bits weighed (every weight at
        least 1): one popcount, plus one per plane of the weights less one."""
        planes = Weights.of([max(w - 1, 0) for w in self.values]).planes
        if not planes:
            return int.bit_count
        if len(planes) == 1:
            (p0,) = planes
            return lambda bits: bits.bit_count() + (bits & p0).bit_count()
        # The sum written out, one term per plane: on the learner's hot path a loop's own
        # overhead costs as much as the popcounts. The text is built from plane indexes only.
        terms = " + ".join(f"((b & p{k}).bit_count() << {k})" for k in range(len(planes)))
        names = {f"p{k}": plane for k, plane in enumerate(planes)}
        found: Callable[[int], int] = eval(f"lambda b: b.bit_count() + {terms}", names)  # noqa: S307
        return found


Weights.NONE = Weights(())
