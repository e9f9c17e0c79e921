"""Which proposals one proposer run made (``proposer.runs.run_of``): an LLM run's by its
``run_id``, a baseline run's by its unbroken ranks on one window; a person's proposal is a
run of one."""

from __future__ import annotations

from typing import Any

from proposer import ProposalRecord, create_proposal
from proposer.runs import run_of
from rules.store import Database, versions
from tests.review_app.test_proposals_support import raise_limit, reword
from tests.rules.api.conftest import NAME, mortgage

WINDOW = {"last": 100}


def made(db: Database, n: int, author: str, run: dict[str, Any] | None) -> ProposalRecord:
    operations = raise_limit(0.31 + n / 100) if n % 2 else reword(f"Reason {n}")
    with db.session() as s:
        return create_proposal(
            s,
            NAME,
            operations=operations,
            rationale="r",
            citations=[],
            author=author,
            actor="cli:t",
            run=run,
        )


def baseline(rank: int, window: dict[str, Any] = WINDOW) -> dict[str, Any]:
    return {"proposer": "baseline", "rank": rank, "window": window, "max_agreement_loss": 3}


def test_runs_are_told_apart(db: Database) -> None:
    with db.session() as s:
        versions.create_ruleset(s, mortgage(), "cli:setup")
    first = [made(db, n, "baseline", baseline(n)) for n in (1, 2, 3)]
    llm_a = made(db, 4, "llm:m", {"run_id": 7, "model": "m"})
    second = [made(db, n + 4, "baseline", baseline(n)) for n in (1, 2)]
    llm_b = made(db, 7, "llm:m", {"run_id": 8, "model": "m"})
    llm_a2 = made(db, 8, "llm:m", {"run_id": 7, "model": "m"})
    other_window = made(db, 9, "baseline", baseline(3, {"last": 5}))
    person = made(db, 10, "user:ann", None)
    with db.session() as s:

        def ids(record: ProposalRecord) -> list[int]:
            return [p.id for p in run_of(s, record)]

        for record in first:
            assert ids(record) == [p.id for p in first]
        for record in second:
            assert ids(record) == [p.id for p in second]  # a new run starts at rank 1
        assert ids(llm_a) == ids(llm_a2) == [llm_a.id, llm_a2.id]
        assert ids(llm_b) == [llm_b.id]
        assert ids(other_window) == [other_window.id]  # rank 3 of another window
        assert ids(person) == [person.id]
