"""The proposals one proposer run made together: the frontier it offered (DESIGN §5, "a
choice, not a verdict"), for the dossier's picture of it.

No column records the run. The LLM proposer's run record carries its ``run_id``; the
deterministic proposer records a run's drafts one after another in one transaction, ranked
``1..n`` (``run.rank``) on one window and ceiling (a rebase keeps the run record). So the run
of a proposal is: its ruleset's proposals by the same author near it in id order with the same
``run_id`` (LLM) or, for the baseline, the unbroken sequence of ranks around it with the same
window and ceiling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from proposer.records import ProposalRecord, to_records
from rules.store.models import Proposal, Ruleset

__all__ = ["NEAR", "run_of"]

NEAR = 50  # a run records at most this many proposals (propose_baseline's limit)


def _key(run: Mapping[str, Any]) -> tuple[Any, ...]:
    return (run.get("window"), run.get("max_agreement_loss"), run.get("cases"))


def _baseline_run(record: ProposalRecord, near: Sequence[ProposalRecord]) -> list[ProposalRecord]:
    """The unbroken ranks around ``record``: going back, rank - 1 each step down to 1;
    going forward, rank + 1 each step until a new run (rank 1) or another window."""
    run = record.run or {}
    key, rank = _key(run), run.get("rank")
    if not isinstance(rank, int):
        return [record]
    same = [p for p in near if p.run and p.run.get("proposer") == "baseline"]
    at = next(i for i, p in enumerate(same) if p.id == record.id)
    start = at
    while start > 0 and rank - (at - start) > 1:
        before = same[start - 1].run or {}
        if before.get("rank") != rank - (at - start) - 1 or _key(before) != key:
            break
        start -= 1
    end = at + 1
    while end < len(same):
        after = same[end].run or {}
        if after.get("rank") != rank + (end - at) or _key(after) != key:
            break
        end += 1
    return list(same[start:end])


def run_of(session: Session, record: ProposalRecord) -> list[ProposalRecord]:
    """The proposals made by the run that made ``record`` (itself included), in id order;
    just ``record`` when no proposer run made it."""
    run = record.run or {}
    if not run:
        return [record]
    rows = session.execute(
        select(Proposal, Ruleset.name)
        .join(Ruleset, Ruleset.id == Proposal.ruleset_id)
        .where(
            Ruleset.name == record.ruleset,
            Proposal.author == record.author,
            Proposal.id.between(record.id - NEAR, record.id + NEAR),
        )
        .order_by(Proposal.id)
    )
    near = to_records(session, [(row[0], str(row[1])) for row in rows])
    if run.get("proposer") == "baseline":
        return _baseline_run(record, near)
    run_id = run.get("run_id")
    if run_id is None:
        return [record]
    return [p for p in near if (p.run or {}).get("run_id") == run_id]
