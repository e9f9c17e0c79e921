"""The dossier's scenario and shadow sections: the ruleset's test scenarios run under the
candidate now (what accepting checks), the scenario changes made since the proposal was
created (who, when, in which review), and the report of a shadow run of the candidate (or of
the version it became)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from proposer import ProposalRecord
from rules.core.scenarios import ScenarioOutcome
from rules.store.scenarios import ScenarioChange, run_ruleset_scenarios, scenario_changes
from rules.store.shadow import ShadowReport, find_shadow, shadow_report

__all__ = ["Trials", "shadow_for_version", "trials_view"]


@dataclass(frozen=True, slots=True)
class Trials:
    outcomes: tuple[ScenarioOutcome, ...]
    at_creation: dict[str, Any]  # the evidence's scenario counts when it was attached
    changes: tuple[ScenarioChange, ...]
    shadow: ShadowReport | None

    @property
    def failed(self) -> tuple[ScenarioOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.passed)


def _shadow(session: Session, record: ProposalRecord) -> ShadowReport | None:
    ident = find_shadow(session, record.ruleset, proposal_id=record.id)
    if record.accepted_number is not None:
        ident = find_shadow(session, record.ruleset, version=record.accepted_number) or ident
    return None if ident is None else shadow_report(session, record.ruleset, ident)


def trials_view(session: Session, record: ProposalRecord) -> Trials:
    """What the dossier's scenario and shadow sections show for ``record``."""
    outcomes = run_ruleset_scenarios(session, record.ruleset, doc=record.candidate)
    evidence = record.evidence or {}
    return Trials(
        tuple(outcomes),
        dict(evidence.get("scenarios") or {}),
        tuple(scenario_changes(session, record.ruleset, record.created_at)),
        _shadow(session, record),
    )


def shadow_for_version(session: Session, name: str, number: int) -> ShadowReport | None:
    """The report of the latest shadow run of version ``number``, if it ran in shadow."""
    ident = find_shadow(session, name, version=number)
    return None if ident is None else shadow_report(session, name, ident)
