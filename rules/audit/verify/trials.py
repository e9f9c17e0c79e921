"""What ``scenario.*`` and ``shadow.*`` events vouch for (DESIGN §5).

- ``scenario.added`` / ``scenario.updated`` / ``scenario.removed``: each carries the scenario
  as the change left it; the last event of each scenario must match its row (facts, expect,
  note, who changed it, in which proposal's review), a removed scenario has no row, and every
  row has an event;
- ``shadow.started`` / ``shadow.stopped``: the ``shadows`` row with the version or proposal,
  the document hash (its document hashes to it) and who started and stopped it; every row
  has its start event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.core.document import canonical_json as canonical
from rules.store.models import Ruleset, Scenario, Shadow

__all__ = ["Scenarios", "Shadows"]

_FIELDS = ("facts", "expect", "note", "changed by", "proposal_id")


class Scenarios:
    """Compared at the end: each scenario's last event against its row."""

    def __init__(self, session: Session) -> None:
        query = select(
            Scenario.id,
            Ruleset.name,
            Scenario.key,
            Scenario.facts,
            Scenario.expect,
            Scenario.note,
            Scenario.updated_by,
            Scenario.proposal_id,
        ).join(Ruleset, Ruleset.id == Scenario.ruleset_id)
        self.rows: dict[tuple[str, str], tuple[int, tuple[Any, ...]]] = {}
        found: Any
        for found in session.execute(query):
            ident, name, key, facts, expect, note, by, proposal = found
            self.rows[(name, key)] = (
                ident,
                (canonical(facts), canonical(expect), note, by, proposal),
            )
        self.last: dict[tuple[str, str], tuple[int, tuple[Any, ...] | None]] = {}

    def event(self, seq: int, actor: str, action: str, payload: dict[str, Any]) -> None:
        key = (str(payload["ruleset"]), str(payload["id"]))
        if action == "scenario.removed":
            self.last[key] = (seq, None)
            return
        fields = (
            canonical(payload["facts"]),
            canonical(payload["expect"]),
            payload.get("note"),
            actor,
            payload.get("proposal_id"),
        )
        self.last[key] = (seq, fields)

    def findings(self) -> Iterator[tuple[int, str]]:
        for (name, key), (seq, fields) in sorted(self.last.items(), key=lambda i: i[1][0]):
            row = self.rows.get((name, key))
            if fields is None and row is not None:
                yield seq, f"scenario {key} of {name} was removed, but its row is there"
            elif fields is not None and row is None:
                yield seq, f"scenario {key} of {name} was deleted without a scenario.removed event"
            elif fields is not None and row is not None and row[1] != fields:
                diff = "; ".join(
                    f"{n} is {r!r}, the event says {e!r}"
                    for n, r, e in zip(_FIELDS, row[1], fields, strict=True)
                    if r != e
                )
                yield seq, f"scenario {key} of {name}: {diff}"

    def unvouched(self) -> Iterator[str]:
        for (name, key), (ident, _) in sorted(self.rows.items(), key=lambda i: i[1][0]):
            if (name, key) not in self.last:
                yield (
                    f"scenarios row {ident} (scenario {key} of {name}) has no scenario event: "
                    "it was not written by the service"
                )


class Shadows:
    """Each ``shadows`` row against its start (and stop) event."""

    def __init__(self, session: Session) -> None:
        query = select(Shadow, Ruleset.name).join(Ruleset, Ruleset.id == Shadow.ruleset_id)
        self.rows: dict[int, tuple[Any, ...]] = {}
        for row, name in session.execute(query):
            actual = hashlib.sha256(row.document.encode("utf-8")).hexdigest()
            digest = row.document_hash if actual == row.document_hash else "altered"
            self.rows[row.id] = (
                (name, row.version_number, row.proposal_id, digest, row.started_by),
                row.stopped_by,
            )
        self.started: set[int] = set()
        self.found: list[tuple[int, str]] = []

    def event(self, seq: int, actor: str, action: str, payload: dict[str, Any]) -> None:
        ident = int(payload["shadow_id"])
        row = self.rows.get(ident)
        if row is None:
            self.found.append((seq, f"shadows row {ident} was deleted"))
            return
        if action == "shadow.started":
            self.started.add(ident)
            wanted = (
                payload["ruleset"],
                payload.get("version"),
                payload.get("proposal_id"),
                payload.get("document_hash"),
                actor,
            )
            if row[0] != wanted:
                self.found.append(
                    (seq, f"shadows row {ident} differs from its shadow.started event")
                )
        elif action == "shadow.stopped" and row[1] != actor:
            self.found.append((seq, f"shadows row {ident}: stopped_by differs from its event"))

    def findings(self) -> Iterator[tuple[int, str]]:
        yield from self.found

    def unvouched(self) -> Iterator[str]:
        for ident in sorted(set(self.rows) - self.started):
            yield f"shadows row {ident} has no shadow.started event"
