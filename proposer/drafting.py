"""Turning an author's untrusted input into a checked candidate with its evidence.

:func:`draft` reads operations (JSON-like data or :mod:`proposer.operations` objects) and
citations, applies the operations to the base version, refuses a candidate with static check
errors or one that changes nothing, and builds the evidence. Every problem found is reported
at once, located (``operations[1].rule.when.input``, ``citations[3]``, ``rationale``), in one
:class:`~proposer.errors.InvalidProposalError`; nothing is written here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy.orm import Session

from proposer.backtest import Window
from proposer.candidate import apply
from proposer.citations import citation_problems
from proposer.errors import InvalidProposalError, OperationError
from proposer.evidence import Evidence, ImpactThresholds, build_evidence
from proposer.operations import AddRule, MoveRule, Operation, RemoveRule, UpdateRule
from proposer.operations import parse_operations as _parse_operations
from rules.core.document import Document
from rules.errors import Problem
from rules.store.versions import get_ruleset, get_version

__all__ = [
    "MAX_ACTOR",
    "MAX_NOTE",
    "MAX_RATIONALE",
    "MAX_TITLE",
    "Draft",
    "default_title",
    "draft",
    "text_field",
    "window_of",
]

MAX_TITLE = 200
MAX_ACTOR = 100
MAX_RATIONALE = 20_000
MAX_NOTE = 4000


@dataclass(frozen=True, slots=True)
class Draft:
    """A candidate that passed every check, with the system's evidence about it."""

    ruleset: str
    base: int
    base_doc: Document
    operations: tuple[Operation, ...]
    candidate: Document
    citations: tuple[int, ...]
    evidence: Evidence


def text_field(
    value: object,
    location: str,
    problems: list[Problem],
    *,
    limit: int,
    required: bool = True,
) -> str | None:
    """``value`` if it is text within ``limit`` characters (and not blank when ``required``);
    else None, with a located problem added."""
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        need = "non-blank text" if required else "text"
        problems.append(
            Problem("RB940", location, f"{location} must be {need} of at most {limit:,} characters")
        )
        return None
    return value


def _read_operations(data: object, problems: list[Problem]) -> tuple[Operation, ...] | None:
    if isinstance(data, list | tuple):
        data = [op.to_dict() if isinstance(op, Operation) else op for op in data]
        if not data:
            problems.append(Problem("RB940", "operations", "give at least one operation"))
            return None
    try:
        return _parse_operations(data)
    except OperationError as exc:
        problems.extend(exc.problems)
        return None


def _read_citations(data: object, problems: list[Problem]) -> tuple[int, ...] | None:
    found = citation_problems(data)
    if found:
        problems.extend(found)
        return None
    return tuple(int(c) for c in cast(Sequence[int], data))  # checked just above


def _base(session: Session, name: str, base: int | None) -> tuple[int, Document]:
    number = get_ruleset(session, name).latest_number if base is None else base
    return number, get_version(session, name, number).document


def _candidate(base_doc: Document, operations: tuple[Operation, ...]) -> Document:
    try:
        candidate = apply(base_doc, operations)
    except OperationError as exc:
        raise InvalidProposalError(str(exc).splitlines()[0], exc.problems) from exc
    if candidate.hash == base_doc.hash:
        raise InvalidProposalError(
            "the operations change nothing",
            [
                Problem(
                    "RB942", "operations", "the candidate equals the base version; change a rule"
                )
            ],
        )
    return candidate


def draft(
    session: Session,
    name: str,
    operations: object,
    citations: object,
    *,
    base: int | None = None,
    window: Window | None = None,
    thresholds: ImpactThresholds | None = None,
    problems: Sequence[Problem] = (),
    forecast: Mapping[str, Any] | None = None,
) -> Draft:
    """Check the input, apply it to version ``base`` (default: the latest) and gather the
    evidence; InvalidProposalError with every problem (``problems`` are the caller's own
    findings about other fields, reported together with these). ``forecast`` is the
    system's out-of-sample estimate of the change, attached as evidence (never an
    author's)."""
    found = list(problems)
    ops = _read_operations(operations, found)
    cited = _read_citations(citations, found)
    number, base_doc = _base(session, name, base)
    candidate = None
    if ops is not None:
        try:
            candidate = _candidate(base_doc, ops)
        except InvalidProposalError as exc:
            if not found:
                raise
            found.extend(exc.problems)
    if found or ops is None or cited is None or candidate is None:
        raise InvalidProposalError("the proposal has errors", found)
    evidence = build_evidence(
        session,
        name,
        base_doc,
        number,
        candidate,
        ops,
        cited,
        window,
        thresholds,
        forecast=forecast,
    )
    return Draft(name, number, base_doc, ops, candidate, cited, evidence)


def default_title(base: Document, operations: Sequence[Operation]) -> str:
    """A readable title naming what the operations do, e.g. ``Add rule x before y``."""
    ids = [r.id for r in base.rules]
    parts: list[str] = []
    for op in operations:
        if isinstance(op, AddRule):
            where = f"before {ids[op.position]}" if op.position < len(ids) else "at the end"
            parts.append(f"add rule {op.rule.id} {where}")
        elif isinstance(op, UpdateRule):
            parts.append(f"update rule {op.rule_id}")
        elif isinstance(op, RemoveRule):
            parts.append(f"remove rule {op.rule_id}")
        elif isinstance(op, MoveRule):
            parts.append(f"move rule {op.rule_id} to position {op.position}")
    text = "; ".join(parts)
    text = text[:1].upper() + text[1:]
    return text if len(text) <= MAX_TITLE else text[: MAX_TITLE - 1] + "\u2026"


def window_of(evidence: Mapping[str, Any] | None) -> Window:
    """The backtest window stored with a proposal's evidence (default: all of the log)."""
    stored = (evidence or {}).get("window")
    if not isinstance(stored, Mapping):
        return Window()
    since, until = (stored.get(key) for key in ("since", "until"))
    return Window(
        after=int(stored.get("after") or 0),
        before=stored.get("before"),
        since=datetime.fromisoformat(since) if since else None,
        until=datetime.fromisoformat(until) if until else None,
        last=stored.get("last"),
    )
