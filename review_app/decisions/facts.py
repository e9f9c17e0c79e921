"""A decision's facts and outputs laid out for the detail page, with personal data masked.

Inputs marked ``pii`` are shown only to roles that may read them
(:data:`review_app.access.PII_READERS`); anyone else sees that a value exists, never the
value. Protected inputs are flagged: no rule may test them, and they are recorded so that
outcomes can be checked for fairness.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from review_app.privacy import MASK
from review_app.rulesets.table import value_text
from rules.core.document import Document

__all__ = ["MASK", "FactRow", "fact_rows", "output_pairs"]


@dataclass(frozen=True, slots=True)
class FactRow:
    name: str
    text: str  # what is shown: the value, "not given", or MASK
    given: bool
    masked: bool
    protected: bool
    pii: bool
    known: bool  # an input of the version (always, for facts the service validated)


def _text(value: Any) -> str:
    if value is None or isinstance(value, bool | int | float | str):
        return value_text(value)
    return repr(value)


def fact_rows(doc: Document, facts: Mapping[str, Any], may_read_pii: bool) -> tuple[FactRow, ...]:
    """One row per input of the version, in order, then any stored fact it does not know."""
    rows = []
    for i in doc.inputs:
        given = i.name in facts
        masked = i.pii and given and not may_read_pii
        text = MASK if masked else _text(facts[i.name]) if given else "not given"
        rows.append(FactRow(i.name, text, given, masked, i.protected, i.pii, True))
    for name in facts:
        if doc.input(name) is None:
            rows.append(FactRow(name, _text(facts[name]), True, False, False, False, False))
    return tuple(rows)


def output_pairs(outputs: Any) -> list[list[tuple[str, str]]]:
    """Outputs as rows of (name, text): one row for a single result, one per result for a
    multi-hit result, none for a null result."""
    if outputs is None:
        return []
    results = outputs if isinstance(outputs, list) else [outputs]
    return [
        [(str(k), _text(v)) for k, v in r.items()] if isinstance(r, Mapping) else [("", _text(r))]
        for r in results
    ]
