"""Decisions and resolutions as the rest of the system sees them: frozen view-models, built
from stored rows (or from the values just written) in one place each."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rules.store.models import Decision, Resolution

__all__ = [
    "DecisionRecord",
    "Replay",
    "ResolutionRecord",
    "decision_record",
    "new_decision_record",
    "resolution_record",
]


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


def decision_record(
    row: Decision, name: str, resolution: ResolutionRecord | None = None
) -> DecisionRecord:
    """The record of a stored decision of ruleset ``name``."""
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


def new_decision_record(ident: int, name: str, values: Mapping[str, Any]) -> DecisionRecord:
    """The record of a decision just written with the column ``values``
    (:func:`rules.store.decisions.writers.decision_values`), without reading it back."""
    return DecisionRecord(
        ident,
        name,
        values["version_number"],
        values["version_hash"],
        values["facts"],
        values["outputs"],
        tuple(values["rule_ids"]),
        tuple(values["matched"]),
        values["exception"],
        values["error"],
        values["request_id"],
        values["caller"],
        values["source"],
        values["decided_at"],
    )


def resolution_record(row: Resolution) -> ResolutionRecord:
    return ResolutionRecord(
        row.decision_id, row.outputs, row.override, row.note, row.actor, row.source, row.resolved_at
    )
