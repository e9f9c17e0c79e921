"""The proposer's view of a logged decision, and how to read the review output from it.

:class:`Case` is deliberately small: any object with the same attribute names (a logged case,
a ``rules.store.decisions.DecisionRecord``) adapts through :meth:`Case.from_logged`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rules.core.document import Document, Scalar

__all__ = ["Case", "agrees", "engine_value", "resolved_value", "review_output"]


@dataclass(frozen=True, slots=True)
class Case:
    """One logged decision as the proposer sees it: facts, the engine's stored outputs and
    deciding rules, whether it was an exception, and the human resolution (outputs) if any."""

    decision_id: int
    facts: Mapping[str, Scalar | None]
    outputs: Any
    rule_ids: tuple[str, ...]
    exception: bool
    resolution: Mapping[str, Any] | None = None
    override: bool = False

    @classmethod
    def from_logged(cls, obj: object) -> Case:
        """Adapt any object with these attributes (a logged case or a ``DecisionRecord``): the
        id as ``decision_id`` or ``id``; ``resolution`` as a mapping of outputs or an object
        with ``outputs`` (and ``override``)."""
        decision_id = getattr(obj, "decision_id", None)
        if decision_id is None:
            decision_id = obj.id  # type: ignore[attr-defined]
        resolution = getattr(obj, "resolution", None)
        override = bool(getattr(obj, "override", False))
        if resolution is not None and not isinstance(resolution, Mapping):
            override = override or bool(getattr(resolution, "override", False))
            resolution = resolution.outputs
        return cls(
            decision_id=int(decision_id),
            facts=dict(getattr(obj, "facts", {}) or {}),
            outputs=getattr(obj, "outputs", None),
            rule_ids=tuple(getattr(obj, "rule_ids", ()) or ()),
            exception=bool(getattr(obj, "exception", False)),
            resolution=dict(resolution) if resolution is not None else None,
            override=override,
        )


def review_output(doc: Document) -> str:
    """The output a person reviews: the document's review output, else its first output."""
    return doc.review.output if doc.review is not None else doc.outputs[0].name


def engine_value(outputs: Any, output: str, review: Sequence[Scalar] = ()) -> Scalar | None:
    """One output's value in stored outputs: a dict's entry; for a list of rows, the first row
    with a review value, else the first row; None for a null result."""
    if isinstance(outputs, Mapping):
        return outputs.get(output)
    if isinstance(outputs, list) and outputs:
        rows = [r for r in outputs if isinstance(r, Mapping)]
        flagged = [r for r in rows if r.get(output) in review]
        chosen = flagged or rows
        return chosen[0].get(output) if chosen else None
    return None


def agrees(outputs: Any, resolution: Mapping[str, Any]) -> bool:
    """Whether stored or evaluated ``outputs`` (a single result) give every output value a
    person chose in ``resolution``; a null or multi-row result never does."""
    return isinstance(outputs, Mapping) and all(outputs.get(k) == v for k, v in resolution.items())


def resolved_value(case: Case, output: str) -> Scalar | None:
    if case.resolution is None:
        return None
    return case.resolution.get(output)
