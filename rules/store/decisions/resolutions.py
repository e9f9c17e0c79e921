"""Resolutions: the outcome a person chose for a decision, and what makes one an override
(DESIGN §3).

The business rule lives here once: a resolution *overrides* a decision the rules settled (not
an exception) when it differs from the decided outputs, and a decision whose latest resolution
overrides it is an exception too. :func:`is_override` says it for values in Python (recording
a resolution, an import); :func:`latest_is_override` for rows in SQL (the decision log's
``exceptions_only``, the decision search's filter).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Table, exists
from sqlalchemy.orm import Session

from rules import audit
from rules.core.document import Document, Output, Scalar
from rules.errors import InvalidRequestError, NotFoundError, Problem, suggest
from rules.store.decisions.read import find_decision
from rules.store.decisions.records import ResolutionRecord, resolution_record
from rules.store.models import Base, Resolution, Version, utcnow
from rules.store.versions.documents import document_of

__all__ = ["check_outputs", "is_override", "latest_is_override", "resolve"]

DECISIONS: Table = Base.metadata.tables["decisions"]
RESOLUTIONS: Table = Base.metadata.tables["resolutions"]
MAX_NOTE = 4000


def is_override(exception: bool, decided: Any, chosen: Mapping[str, Any]) -> bool:
    """Whether outputs ``chosen`` by a person override a decision that gave ``decided``: the
    rules settled it (no exception, outputs an object) and some chosen output differs."""
    if exception or not isinstance(decided, dict):
        return False
    return any(decided.get(k) != v for k, v in chosen.items())


def latest_is_override() -> ColumnElement[bool]:
    """SQL: the decision's (``decisions`` row's) latest resolution is an override."""
    later = RESOLUTIONS.alias("later")
    latest = RESOLUTIONS.alias("latest")
    newer = exists().where(later.c.decision_id == latest.c.decision_id, later.c.id > latest.c.id)
    return (
        exists()
        .where(latest.c.decision_id == DECISIONS.c.id, latest.c.override.is_(True), ~newer)
        .correlate(DECISIONS)
    )


def check_outputs(doc: Document, outputs: object, loc: str = "outputs") -> dict[str, Scalar]:
    """A resolution's outputs, checked against the document's output schema."""
    if not isinstance(outputs, Mapping) or not outputs:
        raise InvalidRequestError(
            "the resolution is not valid",
            [Problem("RB420", loc, "give an object with a value for at least one output")],
        )
    names = [o.name for o in doc.outputs]
    problems: list[Problem] = []
    clean: dict[str, Scalar] = {}
    for key, value in outputs.items():
        spec = doc.output(str(key))
        where = f"{loc}.{key}"
        if spec is None:
            problems.append(
                Problem(
                    "RB421",
                    where,
                    f"unknown output; outputs are {', '.join(names)}",
                    suggest(str(key), names),
                )
            )
            continue
        problem = _output_problem(spec, value, where)
        if problem:
            problems.append(problem)
        else:
            clean[spec.name] = value
    if problems:
        raise InvalidRequestError("the resolution is not valid", problems)
    return clean


def _output_problem(spec: Output, value: object, loc: str) -> Problem | None:
    ok = {
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
    }.get(spec.type, False)
    if not ok:
        article = "an" if spec.type[:1] in "aeiou" else "a"
        return Problem("RB422", loc, f"expected {article} {spec.type}, got {value!r}")
    if spec.values is not None and value not in spec.values:
        allowed = ", ".join(str(v) for v in spec.values)
        return Problem(
            "RB423",
            loc,
            f"{value!r} is not one of {allowed}",
            suggest(str(value), [str(v) for v in spec.values]),
        )
    return None


def resolve(
    session: Session,
    decision_id: int,
    outputs: object,
    *,
    note: str | None,
    actor: str,
    source: str = "api",
    require_review: bool = False,
) -> ResolutionRecord:
    """Record the outcome a person chose; overriding an automated decision is an exception.

    With ``require_review`` (the API and the review app) the outputs must set the ruleset's
    review output (RB425): a person resolving a decision decides that one; a script may still
    record a partial resolution."""
    row, name = find_decision(session, decision_id)
    version = session.get(Version, row.version_id)
    if version is None:  # pragma: no cover - a foreign key guarantees it
        raise NotFoundError(f"decision {decision_id} has no version")
    doc = document_of(version)
    clean = check_outputs(doc, outputs)
    if require_review and doc.review is not None and doc.review.output not in clean:
        wanted = doc.review.output
        raise InvalidRequestError(
            "the resolution is not valid",
            [
                Problem(
                    "RB425",
                    f"outputs.{wanted}",
                    f"is required: a resolution sets {wanted}, the output a person reviews",
                )
            ],
        )
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
        raise InvalidRequestError(
            "the resolution is not valid",
            [Problem("RB424", "note", "a note is text of at most 4,000 characters")],
        )
    # The chain's lock first: resolutions then get ids in chain order, so the latest by id is
    # the latest the audit chain vouches for.
    audit.lock_head(session)
    res = Resolution(
        decision_id=row.id,
        outputs=clean,
        override=is_override(row.exception, row.outputs, clean),
        note=note,
        actor=actor,
        source=source,
        resolved_at=utcnow(),
    )
    session.add(res)
    session.flush()
    audit.append(
        session,
        actor,
        "resolution.recorded",
        f"decision:{row.id}",
        {
            "ruleset": name,
            "decision_id": row.id,
            "outputs": clean,
            "override": res.override,
            "note": note,
        },
    )
    return resolution_record(res)
