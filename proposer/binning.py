"""Binning numbers to what induction can tell apart (:mod:`proposer.sample`).

Induction cuts a ``number`` input only at 2-significant-digit values
(:func:`proposer.conditions.round2`), and the base rules test it at their own thresholds. A
value that is one of those cut points is kept; any other becomes the midpoint of the interval
between the cut points around it, which every such condition (``le``, ``lt``, ``ge``, ``gt``,
``eq`` at a cut point) treats exactly as it treats the value itself. So cases whose numbers
differ only inside an interval fall into one group, and nothing induction can write, and no
base rule, tells them apart.
"""

from __future__ import annotations

from decimal import Decimal

from proposer.conditions import usable_inputs
from rules.core.document import Between, Document, Input
from rules.core.validate import leaves

__all__ = ["Binner"]


class Binner:
    """Binned values of a document's usable inputs (see the module)."""

    def __init__(self, doc: Document) -> None:
        self.inputs: list[Input] = [spec for _, spec in usable_inputs(doc)]
        self.points: dict[str, list[float]] = {}
        for rule in doc.rules:
            for leaf, _ in leaves(rule.when, ""):
                values = leaf.value if isinstance(leaf.value, list | tuple) else [leaf.value]
                if isinstance(leaf.value, Between):
                    values = [leaf.value.low, leaf.value.high]
                for v in values:
                    if isinstance(v, int | float) and not isinstance(v, bool):
                        self.points.setdefault(leaf.input, []).append(float(v))
        for name in self.points:
            self.points[name] = sorted(set(self.points[name]))

    def number(self, name: str, value: int | float) -> int | float:
        """``value``, or the midpoint of its interval between cut points (see the module)."""
        points = self.points.get(name, ())
        if value == 0 or value in points:
            return value
        magnitude = abs(Decimal(repr(value)))
        step = Decimal(1).scaleb(magnitude.adjusted() - 1)
        k = int(magnitude / step)
        if k * step == magnitude:
            return value  # a 2-significant-digit value is itself a cut point
        low, high = float(k * step), float((k + 1) * step)
        if value < 0:
            low, high = -high, -low
        for point in points:
            if low < point < value:
                low = point
            elif value < point < high:
                high = point
        return (low + high) / 2
