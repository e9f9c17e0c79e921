"""What the decision API answers, as frozen dataclasses.

Answers are open on the server's side (new fields may appear), so each ``parse_*`` function
reads the fields it knows and ignores the rest. Times are timezone-aware ``datetime`` values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "BatchItem",
    "Decision",
    "DecisionDetail",
    "FieldProblem",
    "Replay",
    "Resolution",
    "Ruleset",
    "Version",
    "parse_decision",
    "parse_decision_detail",
    "parse_field_problem",
    "parse_replay",
    "parse_resolution",
    "parse_ruleset",
    "parse_version",
]


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with a request: where (``facts.insurence``), what, and the likely fix."""

    field: str
    message: str
    code: str | None = None
    suggestion: str | None = None


@dataclass(frozen=True)
class BatchItem:
    """One item of :meth:`Client.decide_batch` with its own ``request_id`` (one is generated
    when it is None)."""

    facts: Mapping[str, Any]
    request_id: str | None = None


@dataclass(frozen=True)
class Decision:
    """A recorded decision.

    ``outputs`` is an object for single-hit policies, a list of objects for multi-hit ones, and
    None when nothing could be decided (``error`` then says why). ``exception`` is true when the
    decision was routed to a person. ``created`` is True when this call recorded it (201),
    False when it was already on record under its ``request_id`` (a repeat, or a retry of an
    attempt whose answer was lost), and None where the server does not say (batch items).
    """

    decision_id: int
    ruleset: str
    version: int
    version_hash: str
    outputs: Any
    rule_ids: tuple[str, ...]
    matched: tuple[str, ...]
    exception: bool
    request_id: str | None
    decided_at: datetime
    error: str | None
    created: bool | None


@dataclass(frozen=True)
class Resolution:
    """The outcome a person chose for a decision; ``override`` when it contradicts it."""

    decision_id: int
    outputs: dict[str, Any]
    override: bool
    note: str | None
    resolved_by: str
    source: str
    resolved_at: datetime


@dataclass(frozen=True)
class DecisionDetail(Decision):
    """A stored decision with its facts, caller and latest resolution (None: unresolved)."""

    facts: dict[str, Any]
    caller: str
    source: str
    resolution: Resolution | None


@dataclass(frozen=True)
class Replay:
    """A stored decision re-evaluated under its recorded version."""

    decision_id: int
    identical: bool
    stored: dict[str, Any]
    replayed: dict[str, Any]
    differences: tuple[str, ...]


@dataclass(frozen=True)
class Ruleset:
    name: str
    title: str | None
    active_version: int | None
    latest_version: int
    created_at: datetime


@dataclass(frozen=True)
class Version:
    """A ruleset version's record (without its document)."""

    ruleset: str
    version: int
    hash: str
    parent: int | None
    author: str
    proposal_id: int | None
    created_at: datetime
    active: bool


def _time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 time, got {value!r}")
    # 3.9's fromisoformat reads the server's isoformat() output (never a "Z" suffix).
    return datetime.fromisoformat(value)


def parse_field_problem(data: Mapping[str, Any]) -> FieldProblem:
    return FieldProblem(
        field=str(data.get("field", "")),
        message=str(data.get("message", "")),
        code=data.get("code"),
        suggestion=data.get("suggestion"),
    )


def _decision_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "decision_id": int(data["decision_id"]),
        "ruleset": data["ruleset"],
        "version": int(data["version"]),
        "version_hash": data["version_hash"],
        "outputs": data["outputs"],
        "rule_ids": tuple(data["rule_ids"]),
        "matched": tuple(data["matched"]),
        "exception": bool(data["exception"]),
        "request_id": data["request_id"],
        "decided_at": _time(data["decided_at"]),
        "error": data.get("error"),
    }


def parse_decision(data: Mapping[str, Any], created: bool | None = None) -> Decision:
    return Decision(**_decision_fields(data), created=created)


def parse_resolution(data: Mapping[str, Any]) -> Resolution:
    return Resolution(
        decision_id=int(data["decision_id"]),
        outputs=dict(data["outputs"]),
        override=bool(data["override"]),
        note=data["note"],
        resolved_by=data["resolved_by"],
        source=data["source"],
        resolved_at=_time(data["resolved_at"]),
    )


def parse_decision_detail(data: Mapping[str, Any]) -> DecisionDetail:
    resolution = data["resolution"]
    return DecisionDetail(
        **_decision_fields(data),
        created=None,
        facts=dict(data["facts"]),
        caller=data["caller"],
        source=data["source"],
        resolution=parse_resolution(resolution) if resolution is not None else None,
    )


def parse_replay(data: Mapping[str, Any]) -> Replay:
    return Replay(
        decision_id=int(data["decision_id"]),
        identical=bool(data["identical"]),
        stored=dict(data["stored"]),
        replayed=dict(data["replayed"]),
        differences=tuple(data["differences"]),
    )


def parse_ruleset(data: Mapping[str, Any]) -> Ruleset:
    return Ruleset(
        name=data["name"],
        title=data["title"],
        active_version=data["active_version"],
        latest_version=int(data["latest_version"]),
        created_at=_time(data["created_at"]),
    )


def parse_version(data: Mapping[str, Any]) -> Version:
    return Version(
        ruleset=data["ruleset"],
        version=int(data["version"]),
        hash=data["hash"],
        parent=data["parent"],
        author=data["author"],
        proposal_id=data["proposal_id"],
        created_at=_time(data["created_at"]),
        active=bool(data["active"]),
    )
