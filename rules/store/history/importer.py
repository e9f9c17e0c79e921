"""Writing an imported file: the target version, idempotency by case id, the decisions
recorded through the decision service (in bulk, in the caller's transaction), their
resolutions and the one audit event."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rules import audit
from rules.audit.verify.imports import ImportDigest, digest_of, id_runs
from rules.core.document import Scalar
from rules.core.engine import Engine, default_engine
from rules.core.engine.hit_policies import Result
from rules.errors import ConflictError, Problem
from rules.store.decisions.bulk import existing, insert_resolutions
from rules.store.decisions.resolutions import is_override
from rules.store.decisions.service import Decided, DecisionService
from rules.store.decisions.target import Target, find_target
from rules.store.history.columns import plan_columns
from rules.store.history.rows import Row, prepare_rows, read_csv, rejected
from rules.store.models import utcnow
from rules.store.versions import get_ruleset

__all__ = ["ImportReport", "ImportSpec", "import_csv", "overrides"]


@dataclass(frozen=True, slots=True)
class ImportSpec:
    """How to read the file: which column holds the outcome, which the case id, and so on."""

    outcome_column: str
    mapping: Mapping[str, str] | None = None
    id_column: str | None = None
    output: str | None = None
    ignore: frozenset[str] = frozenset()
    file_name: str = "history.csv"


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did. ``automated`` counts imported decisions that were not exceptions;
    ``agreed`` those of them whose recorded outcome is what the rules decided."""

    ruleset: str
    version: int
    file: str
    sha256: str
    rows: int
    imported: int
    skipped: int
    automated: int
    agreed: int
    unresolved: int
    output: str
    first_decision_id: int | None
    last_decision_id: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ruleset": self.ruleset,
            "version": self.version,
            "file": self.file,
            "sha256": self.sha256,
            "rows": self.rows,
            "imported": self.imported,
            "skipped": self.skipped,
            "automated": self.automated,
            "agreed": self.agreed,
            "unresolved": self.unresolved,
            "output": self.output,
            "first_decision_id": self.first_decision_id,
            "last_decision_id": self.last_decision_id,
        }


def _target(service: DecisionService, session: Session, name: str) -> Target:
    info = get_ruleset(session, name)  # NotFoundError with a "did you mean"
    if info.active_number is None:
        raise ConflictError(f"{name} has no active version to import into")
    # The ruleset's row held FOR SHARE until the import commits: no activation takes effect
    # in between, so the rows' version is the one active at their time (DESIGN §3).
    return find_target(session, name, None, share=True)


def _present(session: Session, target: Target, rows: list[Row], id_header: str | None) -> set[str]:
    """The case ids already recorded for this ruleset; one recorded with other facts is an
    error (the same id must mean the same case)."""
    wanted = {r.request_id: r for r in rows if r.request_id is not None}
    found: set[str] = set()
    problems: list[Problem] = []
    for request_id, decision_id, facts in existing(session, target.ruleset_id, list(wanted)):
        row = wanted[request_id]
        if facts != row.facts:
            message = f"case id {request_id!r} is decision {decision_id}, with other facts"
            problems.append(Problem("RB455", f"row {row.number}, column {id_header}", message))
        found.add(request_id)
    if problems:
        raise rejected(problems, len(problems))
    return found


def overrides(result: Result, output: str, value: Scalar) -> bool:
    """Whether the recorded outcome ``value`` overrides what the rules decided (the one rule:
    :func:`rules.store.decisions.is_override`)."""
    return is_override(result.exception, result.outputs, {output: value})


def _resolution_params(
    rows: Sequence[Row], ids: Sequence[int], output: str, actor: str, file_name: str
) -> list[dict[str, Any]]:
    at = utcnow()
    return [
        {
            "decision_id": decision_id,
            "outputs": {output: r.outcome},
            "override": overrides(r.result, output, r.outcome),
            "note": f"imported from {file_name}, row {r.number}",
            "actor": actor,
            "source": "import",
            "resolved_at": at,
        }
        for r, decision_id in zip(rows, ids, strict=True)
        if r.outcome is not None
    ]


def _insert(
    service: DecisionService,
    session: Session,
    target: Target,
    rows: list[Row],
    output: str,
    actor: str,
    file_name: str,
) -> tuple[list[int], ImportDigest]:
    """The decisions (through the decision service) and their resolutions, in bulk; the new
    decision ids in row order, and the digest the audit event records of what was written
    (:mod:`rules.audit.verify.imports`)."""
    decided = [Decided(r.facts, r.result, r.request_id) for r in rows]
    try:
        ids = service.record_new(session, target, decided, caller=actor, source="import")
        resolved = _resolution_params(rows, ids, output, actor, file_name)
        insert_resolutions(session, resolved)
    except IntegrityError as exc:
        raise ConflictError(
            "a decision with one of the file's case ids was recorded while the file was being "
            "imported, so nothing was imported; import the file again to skip that case"
        ) from exc
    outputs = [{"outputs": r.result.outputs} for r in rows]
    return ids, digest_of(ids, outputs, resolved)


def _report(
    name: str,
    target: Target,
    spec: ImportSpec,
    data: bytes,
    output: str,
    rows: list[Row],
    new: list[Row],
    ids: list[int],
) -> ImportReport:
    automated = [r for r in new if not r.result.exception]
    return ImportReport(
        ruleset=name,
        version=target.number,
        file=spec.file_name,
        sha256=hashlib.sha256(data).hexdigest(),
        rows=len(rows),
        imported=len(new),
        skipped=len(rows) - len(new),
        automated=len(automated),
        agreed=sum(
            1
            for r in automated
            if r.outcome is not None and not overrides(r.result, output, r.outcome)
        ),
        unresolved=sum(1 for r in new if r.outcome is None),
        output=output,
        first_decision_id=ids[0] if ids else None,
        last_decision_id=ids[-1] if ids else None,
    )


def import_csv(
    session: Session,
    name: str,
    data: bytes,
    spec: ImportSpec,
    *,
    actor: str,
    engine: Engine = default_engine,
) -> ImportReport:
    """Import ``data``, a CSV file's bytes, as decisions of ``name``'s active version with their
    resolutions: all or nothing, in the caller's transaction."""
    service = DecisionService(engine=engine)
    target = _target(service, session, name)
    header, records = read_csv(data)
    plan = plan_columns(
        target.doc,
        header,
        outcome_column=spec.outcome_column,
        id_column=spec.id_column,
        output=spec.output,
        mapping=spec.mapping,
        ignore=spec.ignore,
    )
    rows = prepare_rows(plan, records, engine, target.doc)
    present = _present(session, target, rows, plan.id_header)
    new = [r for r in rows if r.request_id not in present]
    output = plan.output.name
    if not new:
        return _report(name, target, spec, data, output, rows, new, [])
    ids, digest = _insert(service, session, target, new, output, actor, spec.file_name)
    report = _report(name, target, spec, data, output, rows, new, ids)
    payload = _event_payload(report, ids, digest)
    audit.append(session, actor, "history.imported", f"ruleset:{name}", payload)
    return report


def _event_payload(report: ImportReport, ids: list[int], digest: ImportDigest) -> dict[str, Any]:
    """The ``history.imported`` event: what was imported, and what vouches for the rows."""
    return {
        "ruleset": report.ruleset,
        "version": report.version,
        "file": report.file,
        "sha256": report.sha256,
        "rows_imported": report.imported,
        "rows_skipped": report.skipped,
        "output": report.output,
        "first_decision_id": report.first_decision_id,
        "last_decision_id": report.last_decision_id,
        "decision_ids": id_runs(ids),
        "resolutions": digest.resolutions,
        "digest": digest.hexdigest(),
    }
