"""Recorded decisions, resolutions and replay (DESIGN §3).

A decision is validated, evaluated by the engine and inserted in the caller's transaction; the
caller commits before answering. A ``request_id`` seen before for the same ruleset returns the
stored decision (idempotency); reusing one with different facts is a conflict, not a repeat.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rules import audit
from rules.core.document import Document, Output, Scalar
from rules.core.engine import Engine, default_engine
from rules.core.engine.hit_policies import Result
from rules.errors import (
    ConflictError,
    FactsError,
    InvalidRequestError,
    NotFoundError,
    Problem,
    suggest,
)
from rules.store.models import Decision, Resolution, Ruleset, Version, utcnow
from rules.store.versions import _documents

__all__ = [
    "DecisionRecord",
    "Replay",
    "ResolutionRecord",
    "decide",
    "decide_batch",
    "get_decision",
    "iter_decisions",
    "replay",
    "resolve",
]

MAX_REQUEST_ID = 200
MAX_BATCH = 1000


@dataclass(frozen=True, slots=True)
class ResolutionRecord:
    decision_id: int
    outputs: dict[str, Any]
    override: bool
    note: str | None
    actor: str
    source: str
    resolved_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "outputs": self.outputs,
            "override": self.override,
            "note": self.note,
            "resolved_by": self.actor,
            "source": self.source,
            "resolved_at": self.resolved_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    id: int
    ruleset: str
    version: int
    version_hash: str
    facts: dict[str, Any]
    outputs: Any
    rule_ids: tuple[str, ...]
    matched: tuple[str, ...]
    exception: bool
    error: str | None
    request_id: str | None
    caller: str
    source: str
    decided_at: datetime
    resolution: ResolutionRecord | None = field(default=None)

    def to_dict(self, full: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "decision_id": self.id,
            "ruleset": self.ruleset,
            "version": self.version,
            "version_hash": self.version_hash,
            "outputs": self.outputs,
            "rule_ids": list(self.rule_ids),
            "matched": list(self.matched),
            "exception": self.exception,
            "request_id": self.request_id,
            "decided_at": self.decided_at.isoformat(),
        }
        if self.error is not None:
            out["error"] = self.error
        if full:
            out["facts"] = self.facts
            out["caller"] = self.caller
            out["source"] = self.source
            out["resolution"] = self.resolution.to_dict() if self.resolution else None
        return out


@dataclass(frozen=True, slots=True)
class Replay:
    decision_id: int
    identical: bool
    stored: dict[str, Any]
    replayed: dict[str, Any]
    differences: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "identical": self.identical,
            "stored": self.stored,
            "replayed": self.replayed,
            "differences": list(self.differences),
        }


@dataclass(frozen=True, slots=True)
class _Target:
    ruleset_id: int
    ruleset: str
    version_id: int
    number: int
    hash: str
    doc: Document


def _record(row: Decision, name: str, resolution: ResolutionRecord | None = None) -> DecisionRecord:
    return DecisionRecord(
        row.id,
        name,
        row.version_number,
        row.version_hash,
        row.facts,
        row.outputs,
        tuple(row.rule_ids),
        tuple(row.matched),
        row.exception,
        row.error,
        row.request_id,
        row.caller,
        row.source,
        row.decided_at,
        resolution,
    )


def _resolution(row: Resolution) -> ResolutionRecord:
    return ResolutionRecord(
        row.decision_id, row.outputs, row.override, row.note, row.actor, row.source, row.resolved_at
    )


def _target(session: Session, name: str, version: int | None) -> _Target:
    number = Ruleset.active_number if version is None else version
    row = session.execute(
        select(Ruleset.id, Ruleset.active_number, Version.id, Version.number, Version.hash)
        .outerjoin(Version, and_(Version.ruleset_id == Ruleset.id, Version.number == number))
        .where(Ruleset.name == name)
    ).one_or_none()
    if row is None:
        hint = suggest(name, session.scalars(select(Ruleset.name)).all())
        raise NotFoundError(
            f"no ruleset named {name!r}" + (f"; did you mean {hint!r}?" if hint else "")
        )
    ruleset_id, _active, version_id, found, digest = row
    if version_id is None:
        if version is None:
            raise ConflictError(f"{name} has no active version")
        raise NotFoundError(f"{name} has no version {version}")
    doc = _documents.peek(digest)
    if doc is None:
        text = session.scalar(select(Version.document).where(Version.id == version_id))
        doc = _documents.get(digest, str(text))
    return _Target(ruleset_id, name, version_id, found, digest, doc)


def _check_request_id(request_id: object, loc: str) -> Problem | None:
    if request_id is None:
        return None
    if not isinstance(request_id, str) or not 1 <= len(request_id) <= MAX_REQUEST_ID:
        return Problem(
            "RB410", loc, f"request_id must be a string of 1-{MAX_REQUEST_ID} characters"
        )
    return None


def _existing(session: Session, target: _Target, request_id: str) -> Decision | None:
    return session.scalar(
        select(Decision).where(
            Decision.ruleset_id == target.ruleset_id, Decision.request_id == request_id
        )
    )


def _repeat(row: Decision, name: str, facts: Mapping[str, Any], loc: str) -> DecisionRecord:
    if row.facts != dict(facts):
        raise ConflictError(
            f"request_id {row.request_id!r} was already used for decision {row.id} with "
            "different facts; use a new request_id for a new decision",
            [Problem("RB411", loc, "request_id reused with different facts")],
        )
    return _record(row, name)


def _row(
    target: _Target,
    facts: dict[str, Scalar | None],
    result: Result,
    request_id: str | None,
    caller: str,
    api_key_id: int | None,
    source: str,
    at: datetime,
) -> Decision:
    return Decision(
        ruleset_id=target.ruleset_id,
        version_id=target.version_id,
        version_number=target.number,
        version_hash=target.hash,
        facts=facts,
        outputs=result.outputs,
        rule_ids=list(result.rule_ids),
        matched=list(result.matched),
        exception=result.exception,
        error=result.error,
        request_id=request_id,
        api_key_id=api_key_id,
        caller=caller,
        source=source,
        decided_at=at,
    )


def decide(
    session: Session,
    name: str,
    facts: object,
    *,
    version: int | None = None,
    request_id: str | None = None,
    caller: str,
    api_key_id: int | None = None,
    source: str = "api",
    engine: Engine = default_engine,
) -> tuple[DecisionRecord, bool]:
    """Decide and record; returns the decision and whether it is new (False: a repeat)."""
    problem = _check_request_id(request_id, "request_id")
    if problem:
        raise InvalidRequestError("the request is not valid", [problem])
    target = _target(session, name, version)
    clean, result = engine.decide(target.doc, facts)
    if request_id is not None:
        found = _existing(session, target, request_id)
        if found is not None:
            return _repeat(found, name, clean, "request_id"), False
    row = _row(target, clean, result, request_id, caller, api_key_id, source, utcnow())
    if request_id is None:
        session.add(row)
        session.flush()
        return _record(row, name), True
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # Another request with this request_id committed between our check and insert.
        found = _existing(session, target, request_id)
        if found is None:
            raise
        return _repeat(found, name, clean, "request_id"), False
    return _record(row, name), True


def decide_batch(
    session: Session,
    name: str,
    items: Sequence[object],
    *,
    version: int | None = None,
    caller: str,
    api_key_id: int | None = None,
    source: str = "api",
    engine: Engine = default_engine,
) -> list[tuple[DecisionRecord, bool]]:
    """Decide every item with one version, all or nothing: any bad item is a 422 naming it."""
    if not isinstance(items, Sequence) or isinstance(items, str | bytes) or not items:
        raise InvalidRequestError(
            "the batch is not valid",
            [Problem("RB412", "items", f"give a list of 1-{MAX_BATCH} items")],
        )
    if len(items) > MAX_BATCH:
        raise InvalidRequestError(
            "the batch is too large",
            [
                Problem(
                    "RB412", "items", f"{len(items)} items; split it into batches of {MAX_BATCH}"
                )
            ],
        )
    target = _target(session, name, version)
    problems: list[Problem] = []
    prepared: list[tuple[dict[str, Scalar | None], Result, str | None]] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        loc = f"items[{i}]"
        if not isinstance(item, Mapping):
            problems.append(Problem("RB412", loc, "each item is an object {facts, request_id?}"))
            continue
        extra = sorted(set(item) - {"facts", "request_id"})
        for key in extra:
            problems.append(
                Problem(
                    "RB413", f"{loc}.{key}", "unknown field", suggest(key, ["facts", "request_id"])
                )
            )
        rid = item.get("request_id")
        bad_rid = _check_request_id(rid, f"{loc}.request_id")
        if bad_rid:
            problems.append(bad_rid)
        elif isinstance(rid, str):
            if rid in seen:
                problems.append(Problem("RB411", f"{loc}.request_id", "repeated within the batch"))
            seen.add(rid)
        try:
            clean, result = engine.decide(target.doc, item.get("facts"))
        except FactsError as exc:
            problems.extend(
                Problem(p.code, f"{loc}.{p.location}", p.message, p.suggestion)
                for p in exc.problems
            )
            continue
        prepared.append((clean, result, rid if isinstance(rid, str) else None))
    if problems:
        raise InvalidRequestError("some batch items are not valid; nothing was recorded", problems)
    return _store_batch(session, target, prepared, caller, api_key_id, source)


def _store_batch(
    session: Session,
    target: _Target,
    prepared: list[tuple[dict[str, Scalar | None], Result, str | None]],
    caller: str,
    api_key_id: int | None,
    source: str,
) -> list[tuple[DecisionRecord, bool]]:
    """Insert a batch's new decisions; repeated request ids return the stored ones.

    The insert runs in a savepoint: if another transaction commits one of the request ids
    between our check and our insert, the unique constraint refuses it and the batch is
    matched again against what is now stored."""
    at, attempts = utcnow(), 3
    while True:
        attempts -= 1
        slots: list[DecisionRecord | Decision] = []
        for i, (clean, result, rid) in enumerate(prepared):
            found = _existing(session, target, rid) if rid is not None else None
            if found is not None:
                slots.append(_repeat(found, target.ruleset, clean, f"items[{i}].request_id"))
            else:
                slots.append(_row(target, clean, result, rid, caller, api_key_id, source, at))
        try:
            with session.begin_nested():
                session.add_all(s for s in slots if isinstance(s, Decision))
            break
        except IntegrityError:
            if attempts == 0:
                raise
    return [
        (_record(s, target.ruleset), True) if isinstance(s, Decision) else (s, False) for s in slots
    ]


def _latest_resolutions(session: Session, ids: Sequence[int]) -> dict[int, ResolutionRecord]:
    if not ids:
        return {}
    latest = (
        select(func.max(Resolution.id))
        .where(Resolution.decision_id.in_(ids))
        .group_by(Resolution.decision_id)
    )
    rows = session.scalars(select(Resolution).where(Resolution.id.in_(latest)))
    return {r.decision_id: _resolution(r) for r in rows}


def _decision(session: Session, decision_id: int) -> tuple[Decision, str]:
    query = (
        select(Decision, Ruleset.name)
        .join(Ruleset, Ruleset.id == Decision.ruleset_id)
        .where(Decision.id == decision_id)
    )
    row = session.execute(query).one_or_none()
    if row is None:
        raise NotFoundError(f"no decision {decision_id}")
    return row[0], row[1]


def get_decision(session: Session, decision_id: int) -> DecisionRecord:
    """The stored decision with its latest resolution."""
    row, name = _decision(session, decision_id)
    return _record(row, name, _latest_resolutions(session, [row.id]).get(row.id))


def iter_decisions(
    session: Session,
    name: str,
    *,
    exceptions_only: bool = False,
    after: int = 0,
    limit: int | None = None,
    batch: int = 1000,
) -> Iterator[DecisionRecord]:
    """A ruleset's decisions in id order, with their resolutions, streamed in batches."""
    ruleset_id = session.scalar(select(Ruleset.id).where(Ruleset.name == name))
    if ruleset_id is None:
        raise NotFoundError(f"no ruleset named {name!r}")
    remaining = limit
    while remaining is None or remaining > 0:
        size = batch if remaining is None else min(batch, remaining)
        query = (
            select(Decision)
            .where(Decision.ruleset_id == ruleset_id, Decision.id > after)
            .order_by(Decision.id)
            .limit(size)
        )
        if exceptions_only:
            query = query.where(Decision.exception.is_(True))
        rows = list(session.scalars(query))
        if not rows:
            return
        resolutions = _latest_resolutions(session, [r.id for r in rows])
        for r in rows:
            yield _record(r, name, resolutions.get(r.id))
        after = rows[-1].id
        if remaining is not None:
            remaining -= len(rows)


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


def _is_override(row: Decision, outputs: Mapping[str, Any]) -> bool:
    if row.exception or not isinstance(row.outputs, dict):
        return False
    return any(row.outputs.get(k) != v for k, v in outputs.items())


def resolve(
    session: Session,
    decision_id: int,
    outputs: object,
    *,
    note: str | None,
    actor: str,
    source: str = "api",
) -> ResolutionRecord:
    """Record the outcome a person chose; overriding an automated decision is an exception."""
    row, name = _decision(session, decision_id)
    version = session.get(Version, row.version_id)
    if version is None:  # pragma: no cover - a foreign key guarantees it
        raise NotFoundError(f"decision {decision_id} has no version")
    clean = check_outputs(_documents.get(version.hash, version.document), outputs)
    if note is not None and (not isinstance(note, str) or len(note) > 4000):
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
        override=_is_override(row, clean),
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
    return _resolution(res)


def _comparable(record: DecisionRecord | Result) -> dict[str, Any]:
    return {
        "outputs": record.outputs,
        "rule_ids": list(record.rule_ids),
        "matched": list(record.matched),
        "exception": record.exception,
        "error": record.error,
    }


def replay(session: Session, decision_id: int, engine: Engine = default_engine) -> Replay:
    """Re-evaluate a stored decision under its recorded version and compare."""
    row, name = _decision(session, decision_id)
    version = session.get(Version, row.version_id)
    if version is None:  # pragma: no cover
        raise NotFoundError(f"decision {decision_id} has no version")
    doc = _documents.get(version.hash, version.document)
    return _compare(row.id, _comparable(_record(row, name)), engine.evaluate(doc, row.facts))


def _compare(decision_id: int, stored: dict[str, Any], result: Result) -> Replay:
    replayed = _comparable(result)
    differences = tuple(k for k in stored if stored[k] != replayed[k])
    return Replay(decision_id, not differences, stored, replayed, differences)


def replay_all(session: Session, name: str, engine: Engine = default_engine) -> Iterator[Replay]:
    """Replay every decision of a ruleset, streaming."""
    docs: dict[int, Document] = {}
    for record in iter_decisions(session, name):
        doc = docs.get(record.version)
        if doc is None:
            version = session.scalar(
                select(Version)
                .join(Ruleset, Ruleset.id == Version.ruleset_id)
                .where(Ruleset.name == name, Version.number == record.version)
            )
            if version is None:  # pragma: no cover
                raise NotFoundError(f"{name} has no version {record.version}")
            doc = docs[record.version] = _documents.get(version.hash, version.document)
        yield _compare(record.id, _comparable(record), engine.evaluate(doc, record.facts))
