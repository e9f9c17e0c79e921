"""Replay: re-evaluating a stored decision under its recorded version and comparing
(DESIGN §3). The result must equal the stored one, or the replay names what differs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.core.document import Document
from rules.core.engine import Engine, Result, default_engine
from rules.errors import NotFoundError
from rules.store.decisions.read import find_decision, iter_decisions
from rules.store.decisions.records import DecisionRecord, Replay, decision_record
from rules.store.models import Ruleset, Version
from rules.store.versions.documents import document_of

__all__ = ["replay", "replay_all"]


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
    row, name = find_decision(session, decision_id)
    version = session.get(Version, row.version_id)
    if version is None:  # pragma: no cover
        raise NotFoundError(f"decision {decision_id} has no version")
    doc = document_of(version)
    return _compare(
        row.id, _comparable(decision_record(row, name)), engine.evaluate(doc, row.facts)
    )


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
            doc = docs[record.version] = document_of(version)
        yield _compare(record.id, _comparable(record), engine.evaluate(doc, record.facts))
