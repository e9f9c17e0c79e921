"""A ruleset's test scenarios (DESIGN §5): listed, added, changed, removed, imported and run.

Scenarios are not part of any version: they belong to the ruleset, and every change appends
an audit event (``scenario.added``, ``scenario.updated``, ``scenario.removed``) carrying the
scenario as it now is, in the same transaction; :mod:`rules.audit.verify` checks that every
row is what its last event says. A change may name the proposal in whose review it was made
(``proposal_id``): it is then checked against that proposal's candidate, and the dossier
shows it to the approvers. Otherwise facts are checked against the active version's inputs
(the latest version's when none is active) and ``expect`` against its outputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules import audit
from rules.core.document import Document, load_document
from rules.core.scenarios import ScenarioData, ScenarioOutcome, run_scenarios
from rules.core.scenarios.check import require_valid
from rules.errors import ConflictError, NotFoundError, suggest
from rules.store.models import Proposal, Ruleset, Scenario, utcnow
from rules.store.versions.documents import document_of
from rules.store.versions.read import find_ruleset, find_version, latest_number

__all__ = [
    "ScenarioChange",
    "ScenarioRecord",
    "add_scenario",
    "candidate_of",
    "import_scenarios",
    "list_scenarios",
    "remove_scenario",
    "run_ruleset_scenarios",
    "scenario_changes",
    "scenario_payload",
    "update_scenario",
]


@dataclass(frozen=True, slots=True)
class ScenarioRecord:
    """A stored scenario, with who last changed it, when, and in which proposal's review."""

    id: str
    facts: dict[str, Any]
    expect: dict[str, Any]
    note: str | None
    updated_by: str
    updated_at: datetime
    proposal_id: int | None

    @property
    def data(self) -> ScenarioData:
        return ScenarioData(self.id, self.facts, self.expect, self.note)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.data.to_dict(),
            "updated_by": self.updated_by,
            "updated_at": self.updated_at.isoformat(),
            "proposal_id": self.proposal_id,
        }


def _record(row: Scenario) -> ScenarioRecord:
    return ScenarioRecord(
        row.key,
        dict(row.facts),
        dict(row.expect),
        row.note,
        row.updated_by,
        row.updated_at,
        row.proposal_id,
    )


def scenario_payload(name: str, data: ScenarioData, proposal_id: int | None) -> dict[str, Any]:
    """What a scenario event records (and what verification compares the row with)."""
    return {"ruleset": name, **data.to_dict(), "proposal_id": proposal_id}


def list_scenarios(session: Session, name: str) -> list[ScenarioRecord]:
    """The ruleset's scenarios, by id."""
    ruleset = find_ruleset(session, name)
    rows = session.scalars(
        select(Scenario).where(Scenario.ruleset_id == ruleset.id).order_by(Scenario.key)
    )
    return [_record(r) for r in rows]


def candidate_of(session: Session, proposal_id: int) -> tuple[str, Document]:
    """A proposal's ruleset name and candidate document."""
    row = session.get(Proposal, proposal_id)
    if row is None:
        raise NotFoundError(f"there is no proposal {proposal_id}")
    ruleset = session.get(Ruleset, row.ruleset_id)
    return (ruleset.name if ruleset else ""), load_document(row.candidate)


def _schema(session: Session, name: str, proposal_id: int | None) -> Document:
    if proposal_id is not None:
        owner, doc = candidate_of(session, proposal_id)
        if owner != name:
            raise ConflictError(f"proposal {proposal_id} is not a proposal of {name}")
        return doc
    ruleset = find_ruleset(session, name)
    number = ruleset.active_number or latest_number(session, ruleset)
    return document_of(find_version(session, ruleset, number))


def _find(session: Session, ruleset_id: int, key: str, name: str) -> Scenario:
    row = session.scalar(
        select(Scenario).where(Scenario.ruleset_id == ruleset_id, Scenario.key == key)
    )
    if row is None:
        keys = session.scalars(select(Scenario.key).where(Scenario.ruleset_id == ruleset_id))
        hint = suggest(key, list(keys))
        raise NotFoundError(
            f"{name} has no scenario {key!r}" + (f"; did you mean {hint!r}?" if hint else "")
        )
    return row


def _write(
    session: Session,
    name: str,
    items: Sequence[ScenarioData],
    actor: str,
    proposal_id: int | None,
    mode: str,
) -> list[ScenarioRecord]:
    """Add (``add``), change (``update``) or add-or-change (``import``) each item."""
    require_valid(_schema(session, name, proposal_id), list(items))
    ruleset = find_ruleset(session, name)
    audit.lock_head(session)
    done: list[ScenarioRecord] = []
    for item in items:
        row = session.scalar(
            select(Scenario).where(Scenario.ruleset_id == ruleset.id, Scenario.key == item.id)
        )
        if row is None and mode == "update":
            row = _find(session, ruleset.id, item.id, name)
        if row is not None and mode == "add":
            raise ConflictError(
                f"{name} already has a scenario {item.id!r}: change it, or choose another id"
            )
        action = "scenario.updated" if row is not None else "scenario.added"
        if row is None:
            row = Scenario(ruleset_id=ruleset.id, key=item.id)
            session.add(row)
        row.facts, row.expect, row.note = dict(item.facts), dict(item.expect), item.note
        row.updated_by, row.updated_at, row.proposal_id = actor, utcnow(), proposal_id
        session.flush()
        payload = scenario_payload(name, item, proposal_id)
        audit.append(session, actor, action, f"scenario:{name}/{item.id}", payload)
        done.append(_record(row))
    return done


def _next_id(session: Session, name: str) -> str:
    taken = {s.id for s in list_scenarios(session, name)}
    n = len(taken) + 1
    while f"s{n}" in taken:
        n += 1
    return f"s{n}"


def add_scenario(
    session: Session,
    name: str,
    facts: Any,
    expect: Any,
    *,
    actor: str,
    key: str | None = None,
    note: str | None = None,
    proposal_id: int | None = None,
) -> ScenarioRecord:
    """Add one scenario (its id defaults to the next free ``s<N>``)."""
    data = ScenarioData(key or _next_id(session, name), facts, expect, note)
    return _write(session, name, [data], actor, proposal_id, "add")[0]


def update_scenario(
    session: Session,
    name: str,
    key: str,
    facts: Any,
    expect: Any,
    *,
    actor: str,
    note: str | None = None,
    proposal_id: int | None = None,
) -> ScenarioRecord:
    """Change one scenario's facts, expectations and note."""
    return _write(
        session, name, [ScenarioData(key, facts, expect, note)], actor, proposal_id, "update"
    )[0]


def import_scenarios(
    session: Session, name: str, items: Iterable[ScenarioData], *, actor: str
) -> list[ScenarioRecord]:
    """Add each scenario, or change the one with its id: all of them or, on any problem,
    none (every problem named)."""
    return _write(session, name, list(items), actor, None, "import")


def remove_scenario(
    session: Session, name: str, key: str, *, actor: str, proposal_id: int | None = None
) -> None:
    """Remove one scenario."""
    ruleset = find_ruleset(session, name)
    row = _find(session, ruleset.id, key, name)
    audit.lock_head(session)
    data = _record(row).data
    session.delete(row)
    session.flush()
    payload = {**scenario_payload(name, data, proposal_id), "removed": True}
    audit.append(session, actor, "scenario.removed", f"scenario:{name}/{key}", payload)


def run_ruleset_scenarios(
    session: Session, name: str, doc: Document | None = None, version: int | None = None
) -> list[ScenarioOutcome]:
    """Run the ruleset's scenarios under ``doc`` (a candidate), else version ``version``, else
    the active version."""
    if doc is None:
        ruleset = find_ruleset(session, name)
        number = version or ruleset.active_number or latest_number(session, ruleset)
        doc = document_of(find_version(session, ruleset, number))
    return run_scenarios(doc, [s.data for s in list_scenarios(session, name)])


@dataclass(frozen=True, slots=True)
class ScenarioChange:
    """One recorded change of a scenario, from the audit chain."""

    seq: int
    at: datetime
    actor: str
    action: str  # added, updated, removed
    id: str
    expect: dict[str, Any]
    note: str | None
    proposal_id: int | None


def scenario_changes(session: Session, name: str, since: datetime) -> list[ScenarioChange]:
    """The ruleset's scenario changes recorded since ``since``, oldest first."""
    found: list[ScenarioChange] = []
    for action in ("scenario.added", "scenario.updated", "scenario.removed"):
        for event in audit.events(session, action=action):
            payload = event.payload
            if payload.get("ruleset") != name or event.at < since:
                continue
            found.append(
                ScenarioChange(
                    event.seq,
                    event.at,
                    event.actor,
                    action.removeprefix("scenario."),
                    str(payload.get("id")),
                    dict(payload.get("expect") or {}),
                    payload.get("note"),
                    payload.get("proposal_id"),
                )
            )
    return sorted(found, key=lambda c: c.seq)
