"""Counting decisions for the rulesets pages: decisions and open exceptions per ruleset, and
decisions per version.

An *open exception* is a decision flagged as an exception that has no resolution yet (the
work waiting for a person)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, exists, func, select
from sqlalchemy.orm import Session

from rules.store.models import Decision, Resolution, Ruleset

__all__ = ["RulesetCounts", "decisions_per_version", "ruleset_counts"]


@dataclass(frozen=True, slots=True)
class RulesetCounts:
    decisions: int
    open_exceptions: int


def ruleset_counts(session: Session) -> dict[str, RulesetCounts]:
    """Decisions and open exceptions of every ruleset, by name."""
    resolved = exists().where(Resolution.decision_id == Decision.id)
    is_open = Decision.exception.is_(True) & ~resolved
    rows = session.execute(
        select(Ruleset.name, func.count(Decision.id), func.count(case((is_open, Decision.id))))
        .outerjoin(Decision, Decision.ruleset_id == Ruleset.id)
        .group_by(Ruleset.name)
    )
    return {str(r[0]): RulesetCounts(int(r[1]), int(r[2])) for r in rows}


def decisions_per_version(session: Session, name: str) -> dict[int, int]:
    """How many decisions each version of ruleset ``name`` made."""
    rows = session.execute(
        select(Decision.version_number, func.count(Decision.id))
        .join(Ruleset, Ruleset.id == Decision.ruleset_id)
        .where(Ruleset.name == name)
        .group_by(Decision.version_number)
    )
    return {int(r[0]): int(r[1]) for r in rows}
