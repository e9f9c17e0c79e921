"""A proposal that fails a test scenario cannot be accepted until the scenario is changed
through the review (recorded and attributed), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from proposer import ProposalStateError, get_proposal
from rules.audit.verify import verify
from rules.store import Database, scenarios
from tests.proposer.test_proposals import accept, actions, counts, logged, propose, submit
from tests.rules.store.storecases import APPROVE, NAME

JUST_OVER = {**APPROVE, "pirat": 0.33}


def test_a_failing_scenario_blocks_accept_until_changed_through_review(db: Database) -> None:
    logged(db)
    with db.session() as s:
        scenarios.add_scenario(
            s, NAME, JUST_OVER, {"outcome": "refer"}, actor="user:ann", key="just-over"
        )
    proposal = propose(db)  # raises the limit to 0.35: just-over becomes approve
    evidence = proposal.evidence or {}
    assert evidence["scenarios"]["failed"] == 1
    assert evidence["scenarios"]["results"][0]["actual"] == {"outcome": "approve"}
    submit(db, proposal.id)
    before = counts(db)
    with pytest.raises(ProposalStateError, match="fails 1 test scenario") as caught:
        accept(db, proposal.id, "user:bob")
    assert caught.value.problems[0].location == "scenarios.just-over"
    assert "expected 'refer', got 'approve'" in caught.value.problems[0].message
    assert counts(db) == before  # nothing recorded
    with db.session() as s:
        changed = scenarios.update_scenario(
            s,
            NAME,
            "just-over",
            JUST_OVER,
            {"outcome": "approve"},
            actor="user:ann",
            note="underwriting approves these now",
            proposal_id=proposal.id,
        )
    assert (changed.updated_by, changed.proposal_id) == ("user:ann", proposal.id)
    done = accept(db, proposal.id, "user:bob")
    assert (done.status, done.accepted_number) == ("accepted", 2)
    assert "scenario.updated" in actions(db)
    with db.session() as s:
        assert verify(s).ok
        assert get_proposal(s, proposal.id).status == "accepted"
